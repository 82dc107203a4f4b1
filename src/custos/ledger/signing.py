"""Ed25519 tree-head signing and the ledger key ring.

The key ring is a folder (``<data_dir>/ledger-keys`` by default): one
``<key_id>.key`` (PKCS#8 PEM, mode 0600) and one ``<key_id>.pub``
(SubjectPublicKeyInfo PEM) per key, and ``<key_id>.json`` with its creation time.
The newest key signs; older ones stay to verify the heads they signed. A key id
is the first 16 hex digits of SHA-256 of the raw 32-byte public key.

The signed payload is the RFC 8785 JSON of ``{tree_size, root_hash (hex),
signed_at, key_id}``; the signature travels base64-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custos.domain.errors import InvalidInput, NotFound
from custos.domain.events import utc


class KeyRingError(InvalidInput):
    error_id = "ledger_key_invalid"


class NoLedgerKey(NotFound):
    error_id = "no_ledger_key"


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM, or base64 of the raw 32 bytes. Raises KeyRingError."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, TypeError) as exc:
        raise KeyRingError(f"not an Ed25519 public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyRingError("not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class TreeHead:
    """A signed statement that the ledger's first ``tree_size`` entries have
    Merkle root ``root_hash`` (hex)."""

    tree_size: int
    root_hash: str
    signed_at: str
    key_id: str
    signature: str

    def payload(self) -> bytes:
        return signed_payload(self.tree_size, self.root_hash, self.signed_at, self.key_id)

    def to_json(self) -> dict[str, object]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "signed_at": self.signed_at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TreeHead:
        """See :func:`tree_head_from_json` (a plain function: mutmut does not mutate
        decorated ones)."""
        return tree_head_from_json(data)


def signed_payload(tree_size: int, root_hash: str, signed_at: str, key_id: str) -> bytes:
    return rfc8785.dumps(
        {"tree_size": tree_size, "root_hash": root_hash, "signed_at": signed_at, "key_id": key_id}
    )


def verify_head(head: TreeHead, public: Ed25519PublicKey) -> bool:
    """Does ``head`` carry a valid signature by ``public`` (and name its key id)?"""
    if key_id_of(public) != head.key_id:
        return False
    try:
        public.verify(base64.b64decode(head.signature, validate=True), head.payload())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class LedgerKey:
    key_id: str
    created_at: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None

    @property
    def pem(self) -> str:
        return public_pem(self.public)


class KeyRing:
    """The ledger keys in one folder. Reading never creates anything."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def all_keys(self) -> list[LedgerKey]:
        """Every key, oldest first (the last one is active)."""
        if not self.folder.is_dir():
            return []
        found: list[tuple[str, int, str, Ed25519PublicKey, Ed25519PrivateKey | None]] = []
        for meta_path in self.folder.glob("*.json"):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            key_id = str(meta["key_id"])
            public = load_public_key((self.folder / f"{key_id}.pub").read_bytes())
            if key_id_of(public) != key_id:
                raise KeyRingError(f"{meta_path}: key id does not match its public key")
            serial = int(meta.get("serial", 0))
            found.append((str(meta["created_at"]), serial, key_id, public, self._private(key_id)))
        found.sort(key=lambda k: (k[0], k[1], k[2]))
        return [
            LedgerKey(key_id, created, public, private)
            for created, _, key_id, public, private in found
        ]

    def _private(self, key_id: str) -> Ed25519PrivateKey | None:
        path = self.folder / f"{key_id}.key"
        if not path.exists():
            return None  # a verification-only ring (e.g. an auditor's copy)
        if path.stat().st_mode & 0o077:
            raise KeyRingError(f"{path} must not be readable by others (chmod 600)")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyRingError(f"{path} is not an Ed25519 private key")
        return key

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {k.key_id: k.public for k in self.all_keys()}

    def active(self) -> LedgerKey:
        """The newest key with its private half. Raises NoLedgerKey."""
        keys = [k for k in self.all_keys() if k.private is not None]
        if not keys:
            raise NoLedgerKey(
                f"no ledger signing key in {self.folder}: run 'custos keys rotate-ledger'"
            )
        return keys[-1]

    def generate(self, now: datetime) -> LedgerKey:
        """Add a new key (it becomes the active one) and return it."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Ed25519PrivateKey.generate()
        public = private.public_key()
        key_id = key_id_of(public)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(self.folder / f"{key_id}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        (self.folder / f"{key_id}.pub").write_text(public_pem(public), encoding="ascii")
        created = utc(now)
        # serial orders keys made within one clock tick (tests, scripted rotations)
        serial = len(list(self.folder.glob("*.json"))) + 1
        meta = {"key_id": key_id, "created_at": created, "algorithm": "Ed25519", "serial": serial}
        (self.folder / f"{key_id}.json").write_text(json.dumps(meta), encoding="utf-8")
        return LedgerKey(key_id, created, public, private)

    def ensure(self, now: datetime) -> LedgerKey:
        """The active key, generating the first one when the ring is empty."""
        try:
            return self.active()
        except NoLedgerKey:
            return self.generate(now)


def sign_head(key: LedgerKey, tree_size: int, root: bytes, signed_at: datetime) -> TreeHead:
    """Sign the head of a tree of ``tree_size`` leaves with root ``root``."""
    if key.private is None:
        raise NoLedgerKey(f"key {key.key_id} has no private half here")
    when = utc(signed_at)
    payload = signed_payload(tree_size, root.hex(), when, key.key_id)
    signature = base64.b64encode(key.private.sign(payload)).decode("ascii")
    return TreeHead(tree_size, root.hex(), when, key.key_id, signature)


def tree_head_from_json(data: dict[str, object]) -> TreeHead:
    """Raises KeyRingError on a malformed head (also JSON that is not an object)."""
    try:
        return TreeHead(
            tree_size=int(str(data["tree_size"])),
            root_hash=str(data["root_hash"]),
            signed_at=str(data["signed_at"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise KeyRingError(f"malformed tree head: {exc}") from exc
