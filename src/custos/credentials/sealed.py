"""Sealing of secrets that must be held for a while (e.g. until propagation ends).

Format of a sealed blob: ``version (1 byte) || nonce (12 bytes) || ciphertext+tag``.
AES-256-GCM under the master key's ``"seal"`` subkey; the AAD (e.g. the case id)
and the version byte are authenticated, so a blob only opens for the same AAD.
"""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.credentials.keys import MasterKey
from custos.domain.errors import DomainError

VERSION: Final = b"\x01"
NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
SEAL_PURPOSE: Final = "seal"


class SealError(DomainError):
    """A sealed blob did not open: wrong key, wrong AAD, tampered or malformed."""

    error_id = "seal_invalid"


class Sealer:
    """Seals and unseals text under a subkey of a MasterKey."""

    __slots__ = ("_aead",)

    def __init__(self, key: MasterKey) -> None:
        self._aead = AESGCM(key.subkey(SEAL_PURPOSE))

    def seal(self, plaintext: str, *, aad: str) -> bytes:
        """Return ``version || nonce || ciphertext`` with a fresh random nonce."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _aad(aad))
        return VERSION + nonce + ciphertext

    def unseal(self, blob: bytes, *, aad: str) -> str:
        """Return the plaintext; raises SealError on any mismatch or tampering."""
        if len(blob) < 1 + NONCE_BYTES + _TAG_BYTES or blob[:1] != VERSION:
            raise SealError("sealed secret is malformed or of an unknown version")
        nonce = blob[1 : 1 + NONCE_BYTES]
        try:
            plaintext = self._aead.decrypt(nonce, blob[1 + NONCE_BYTES :], _aad(aad))
            return plaintext.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise SealError("sealed secret does not open with this key and context") from None

    def __repr__(self) -> str:
        return "Sealer(<redacted>)"


def _aad(aad: str) -> bytes:
    return VERSION + aad.encode("utf-8")
