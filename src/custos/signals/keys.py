"""The SET signing key ring, kept like the ledger's (``custos.ledger.signing``):
a folder (``<data_dir>/ssf-keys`` by default, ``[ssf] keys_dir``) outside the
database, with per key ``<kid>.key`` (PKCS#8 PEM, mode 0600) and ``<kid>.json``
(its algorithm, creation time and public JWK). Every node that signs (the
workers) needs the private halves; a node that only publishes the JWKS needs
the ``.json`` files alone.

The newest key with a private half signs; every key in the folder is published
in the JWKS, so a receiver can still check a SET signed just before a rotation.
A key id is the RFC 7638 thumbprint of the public JWK. ``custos ssf keys
rotate`` adds a key, ``custos ssf keys retire KID`` removes an old one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from custos.domain.errors import InvalidInput, NotFound
from custos.domain.events import utc

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

ALGORITHMS: Final = ("ES256", "RS256", "EdDSA")
#: RSA keys for RS256: the CAEP interoperability profile asks for 2048 bits at least.
RSA_BITS: Final = 3072
#: The members of a public JWK that its RFC 7638 thumbprint covers.
_THUMBPRINT_MEMBERS: Final = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class SsfKeyError(InvalidInput):
    error_id = "ssf_key_invalid"


class NoSigningKey(NotFound):
    error_id = "ssf_no_signing_key"


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """A key as the JWKS shows it."""

    kid: str
    alg: str
    created_at: str
    jwk: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    private: PrivateKey

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, alg={self.alg!r})"


def _new_private(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise SsfKeyError(f"unknown algorithm '{alg}'", known=list(ALGORITHMS))


def public_jwk(private: PrivateKey) -> dict[str, Any]:
    """The public half of ``private`` as a JWK (no ``kid`` yet)."""
    public = private.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk: dict[str, Any] = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return jwk


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: base64url SHA-256 of the required members, sorted, no spaces."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk["kty"]), ("crv", "kty", "x"))
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _algorithm_of(private: object) -> str:
    if isinstance(private, ec.EllipticCurvePrivateKey):
        if not isinstance(private.curve, ec.SECP256R1):
            raise SsfKeyError("an EC signing key must be on P-256 (ES256)")
        return "ES256"
    if isinstance(private, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise SsfKeyError("the signing key is neither P-256, RSA nor Ed25519")


class SsfKeyRing:
    """The SET signing keys in one folder. Reading never creates anything."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def published(self) -> list[PublishedKey]:
        """Every key, oldest first (the last one signs). Raises SsfKeyError for a
        key file that does not match its id."""
        found: list[tuple[str, int, PublishedKey]] = []
        for meta in self._metas():
            jwk = dict(meta["jwk"])
            kid = str(meta["kid"])
            if thumbprint(jwk) != kid:
                raise SsfKeyError(f"key {kid}: the key id does not match its public key")
            published = PublishedKey(
                kid=kid,
                alg=str(meta["alg"]),
                created_at=str(meta["created_at"]),
                jwk={**jwk, "kid": kid, "alg": str(meta["alg"]), "use": "sig"},
            )
            found.append((published.created_at, int(meta.get("serial", 0)), published))
        found.sort(key=lambda k: (k[0], k[1], k[2].kid))
        return [key for _, _, key in found]

    def _metas(self) -> list[dict[str, Any]]:
        if not self.folder.is_dir():
            return []
        return [json.loads(path.read_text(encoding="utf-8")) for path in self.folder.glob("*.json")]

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set receivers check SETs with (public halves only)."""
        return {"keys": [key.jwk for key in self.published()]}

    def active(self) -> SigningKey:
        """The newest key whose private half is here. Raises NoSigningKey."""
        for key in reversed(self.published()):
            private = self._private(key.kid)
            if private is not None:
                if _algorithm_of(private) != key.alg:
                    raise SsfKeyError(f"key {key.kid}: its private half is not {key.alg}")
                return SigningKey(kid=key.kid, alg=key.alg, private=private)
        raise NoSigningKey(
            f"no shared-signals signing key in {self.folder}: run 'custos ssf keys rotate'"
        )

    def _private(self, kid: str) -> PrivateKey | None:
        path = self.folder / f"{kid}.key"
        if not path.exists():
            return None  # a publishing-only copy of the ring
        if path.stat().st_mode & 0o077:
            raise SsfKeyError(f"{path} must not be readable by others (chmod 600)")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(
            key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise SsfKeyError(f"{path} is not a P-256, RSA or Ed25519 private key")
        return key

    def generate(self, alg: str, now: datetime) -> PublishedKey:
        """Add a new key of ``alg``; it signs from now on. Raises SsfKeyError."""
        private = _new_private(alg)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        jwk = public_jwk(private)
        kid = thumbprint(jwk)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(self.folder / f"{kid}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        created = utc(now)
        # serial orders keys made within one clock tick (tests, scripted rotations)
        serial = 1 + max((int(m.get("serial", 0)) for m in self._metas()), default=0)
        meta = {"kid": kid, "alg": alg, "created_at": created, "serial": serial, "jwk": jwk}
        (self.folder / f"{kid}.json").write_text(json.dumps(meta), encoding="utf-8")
        return PublishedKey(kid, alg, created, {**jwk, "kid": kid, "alg": alg, "use": "sig"})

    def ensure(self, alg: str, now: datetime) -> None:
        """Generate the first key when the ring has none that can sign."""
        try:
            self.active()
        except NoSigningKey:
            self.generate(alg, now)

    def retire(self, kid: str) -> PublishedKey:
        """Remove key ``kid`` (no longer published, never signs again). Raises
        NotFound, or SsfKeyError for the key that signs now."""
        keys = {key.kid: key for key in self.published()}
        if kid not in keys:
            raise NotFound(f"no shared-signals key '{kid}'")
        try:
            active = self.active().kid
        except NoSigningKey:
            active = None
        if kid == active:
            raise SsfKeyError("the key that signs now cannot be retired: rotate first")
        (self.folder / f"{kid}.json").unlink()
        (self.folder / f"{kid}.key").unlink(missing_ok=True)
        return keys[kid]
