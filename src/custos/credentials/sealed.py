"""Sealing of secrets that must be held for a while (e.g. until propagation ends).

Format of a sealed blob (version 2): ``0x02 || key id (8 bytes) || nonce (12
bytes) || ciphertext+tag``: AES-256-GCM under the ``"seal"`` subkey of the key
the id names. The AAD (e.g. the case id, ``credentials.seal_contexts``), the
version byte and the key id are authenticated, so a blob only opens for the
same context and cannot be relabelled to another key.

Version 1 blobs (``0x01 || nonce || ciphertext+tag``, no key id), written before
keys had ids, still open with any key of the ring; a rotation re-seals them.

The key id lets a ring hold several keys while ``custos keys rotate-sealing``
re-seals values online: new values are sealed under the primary, and every
value opens under the key its id names. A blob naming a key this process does
not hold makes the Sealer re-read its key source once (another process may have
started a rotation) before it fails.
"""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.credentials.keys import KEY_ID_BYTES, MasterKey
from custos.credentials.sealing_keys import KeySource, SealingKeys
from custos.domain.errors import DomainError

VERSION: Final = b"\x02"
LEGACY_VERSION: Final = b"\x01"
NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
SEAL_PURPOSE: Final = "seal"
#: ``version || key id``: the first bytes of every blob a key seals (what the
#: rotation compares in SQL to find values still under another key).
PREFIX_BYTES: Final = 1 + KEY_ID_BYTES


class SealError(DomainError):
    """A sealed blob did not open: wrong key, wrong AAD, tampered or malformed."""

    error_id = "seal_invalid"


def prefix_of(key: MasterKey) -> bytes:
    """The first :data:`PREFIX_BYTES` bytes of every blob ``key`` seals."""
    return VERSION + key.key_id_bytes


def sealed_key_id(blob: bytes) -> str | None:
    """The hex id of the key a version-2 blob names; None for a version-1 blob
    (whose key is not recorded). Raises SealError for anything else."""
    if blob[:1] == LEGACY_VERSION and len(blob) >= 1 + NONCE_BYTES + _TAG_BYTES:
        return None
    if blob[:1] == VERSION and len(blob) >= PREFIX_BYTES + NONCE_BYTES + _TAG_BYTES:
        return blob[1:PREFIX_BYTES].hex()
    raise SealError("sealed secret is malformed or of an unknown version")


class Sealer:
    """Seals under the primary key of a key source and opens under any key of it."""

    __slots__ = ("_aeads", "_source")

    def __init__(self, source: KeySource | MasterKey) -> None:
        self._source: KeySource = (
            SealingKeys(primary=source) if isinstance(source, MasterKey) else source
        )
        self._aeads: dict[bytes, AESGCM] = {}

    def _aead(self, key: MasterKey) -> AESGCM:
        aead = self._aeads.get(key.key_id_bytes)
        if aead is None:
            aead = self._aeads[key.key_id_bytes] = AESGCM(key.subkey(SEAL_PURPOSE))
        return aead

    def seal(self, plaintext: str, *, aad: str) -> bytes:
        """Return ``0x02 || key id || nonce || ciphertext`` under the primary key,
        with a fresh random nonce."""
        key = self._source.current().primary
        prefix = prefix_of(key)
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = self._aead(key).encrypt(nonce, plaintext.encode("utf-8"), _aad(prefix, aad))
        return prefix + nonce + ciphertext

    def unseal(self, blob: bytes, *, aad: str) -> str:
        """Return the plaintext; raises SealError on any mismatch or tampering, and
        when the blob names a key the source does not hold (even after re-reading it)."""
        key_id = sealed_key_id(blob)
        if key_id is None:
            return self._unseal_legacy(blob, aad)
        keys = self._source.current()
        key = keys.opening(key_id)
        if key is None:
            key = self._source.refreshed().opening(key_id)
        if key is None:
            raise SealError(
                f"sealed secret names key {key_id}, which the sealing key ring does not "
                "hold (a retired key, or a ring this process has not loaded)"
            )
        nonce = blob[PREFIX_BYTES : PREFIX_BYTES + NONCE_BYTES]
        return self._open(
            key, nonce, blob[PREFIX_BYTES + NONCE_BYTES :], _aad(blob[:PREFIX_BYTES], aad)
        )

    def _unseal_legacy(self, blob: bytes, aad: str) -> str:
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        for key in self._source.current().keys:
            try:
                return self._open(key, nonce, body, _aad(LEGACY_VERSION, aad))
            except SealError:
                continue
        raise SealError("sealed secret does not open with this key and context")

    def _open(self, key: MasterKey, nonce: bytes, body: bytes, aad: bytes) -> str:
        try:
            return self._aead(key).decrypt(nonce, body, aad).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise SealError("sealed secret does not open with this key and context") from None

    def reseal(self, blob: bytes, *, aad: str) -> bytes:
        """The value of ``blob`` sealed anew under the primary key (same context).
        Raises SealError when ``blob`` does not open."""
        return self.seal(self.unseal(blob, aad=aad), aad=aad)

    def __repr__(self) -> str:
        return "Sealer(<redacted>)"


def _aad(prefix: bytes, aad: str) -> bytes:
    return prefix + aad.encode("utf-8")
