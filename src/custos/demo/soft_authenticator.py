"""A software WebAuthn authenticator: the demo's (and the tests') stand-in for a
security key. It answers ``navigator.credentials.create()`` with a ``none``
attestation and ``navigator.credentials.get()`` with an ES256 assertion, exactly
as a browser hands them to a relying party (JSON, base64url fields).

Never use it to protect a real account: the private key lives in memory.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    """One credential on one software authenticator. ``sign_count`` goes up by
    one per assertion (set it back to simulate a cloned key)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    user_handle: bytes | None = None

    def to_json(self) -> dict[str, str]:
        """The private key (PKCS#8), credential id and user handle, base64url: the
        demo keeps them in its private secrets file."""
        der = self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "key": b64(der),
            "credential_id": b64(self.credential_id),
            "user_handle": b64(self.user_handle or b""),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> SoftAuthenticator:
        key = serialization.load_der_private_key(base64url_to_bytes(data["key"]), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("not an EC private key")
        return cls(
            key=key,
            credential_id=base64url_to_bytes(data["credential_id"]),
            user_handle=base64url_to_bytes(data["user_handle"]) or None,
        )

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return bytes(
            cbor2.dumps(
                {
                    1: 2,  # kty: EC2
                    3: -7,  # alg: ES256
                    -1: 1,  # crv: P-256
                    -2: numbers.x.to_bytes(32, "big"),
                    -3: numbers.y.to_bytes(32, "big"),
                }
            )
        )

    def register(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """The ``PublicKeyCredential`` JSON for creation ``options`` (as the
        relying party sent them). ``rp_id`` overrides the one in the options."""
        rp = rp_id or str(options["rp"]["id"])
        self.user_handle = base64url_to_bytes(str(options["user"]["id"]))
        client_data = _client_data("webauthn.create", str(options["challenge"]), origin)
        attested = (
            bytes(16)  # aaguid: none
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_public_key()
        )
        flags = FLAG_UP | FLAG_AT | (FLAG_UV if user_verified else 0)
        auth_data = _auth_data(rp, flags, self.sign_count) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "attestationObject": b64(bytes(attestation)),
                "transports": ["usb"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }

    def assert_(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        user_verified: bool = True,
        user_present: bool = True,
        count: int | None = None,
    ) -> dict[str, Any]:
        """The assertion JSON for request ``options``; ``count`` overrides the
        next signature counter (a regression test sets it back)."""
        rp = rp_id or str(options["rpId"])
        self.sign_count = self.sign_count + 1 if count is None else count
        client_data = _client_data("webauthn.get", str(options["challenge"]), origin)
        flags = (FLAG_UP if user_present else 0) | (FLAG_UV if user_verified else 0)
        auth_data = _auth_data(rp, flags, self.sign_count)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        response: dict[str, Any] = {
            "clientDataJSON": b64(client_data),
            "authenticatorData": b64(auth_data),
            "signature": b64(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64(self.user_handle)
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps(
        {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


def _auth_data(rp_id: str, flags: int, sign_count: int) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
