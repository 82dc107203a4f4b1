"""The master key and the purpose subkeys derived from it.

One 32-byte master key comes from configuration; every use (sealing, MACs of
issued codes, ...) gets its own subkey through HKDF-SHA256 with the purpose as
``info``, so a key for one purpose never works for another.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from custos.domain.errors import InvalidInput

KEY_BYTES: Final = 32
#: Sealed blobs name their key by this many bytes of a one-way derivation.
KEY_ID_BYTES: Final = 8
_INFO_PREFIX: Final = b"custos/v1/"
_KEY_ID_PURPOSE: Final = "key-id"


class MasterKey:
    """32 bytes of key material; repr and str never show it."""

    __slots__ = ("_key_id", "_material")

    def __init__(self, material: bytes) -> None:
        """Wrap ``material``; raises InvalidInput unless it is exactly 32 bytes."""
        if not isinstance(material, bytes) or len(material) != KEY_BYTES:
            raise InvalidInput(f"master key must be exactly {KEY_BYTES} bytes")
        self._material = material
        self._key_id = self.subkey(_KEY_ID_PURPOSE)[:KEY_ID_BYTES]

    @classmethod
    def generate(cls) -> MasterKey:
        """Return a new key of 32 bytes from :func:`secrets.token_bytes`."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        """See :func:`master_key_from_b64` (a plain function: mutmut does not
        mutate decorated ones)."""
        return master_key_from_b64(text)

    @property
    def key_id_bytes(self) -> bytes:
        """The key's public name: 8 bytes of an HKDF derivation (reveals nothing
        of the key); sealed blobs carry it."""
        return self._key_id

    @property
    def key_id(self) -> str:
        """:attr:`key_id_bytes` in hex (16 characters), as messages and events show it."""
        return self.key_id_bytes.hex()

    def to_b64(self) -> str:
        """Return the key as standard base64 (44 characters)."""
        return base64.b64encode(self._material).decode("ascii")

    def subkey(self, purpose: str) -> bytes:
        """Return a 32-byte key for ``purpose`` (HKDF-SHA256, info = purpose).

        Distinct purposes give independent keys; the same purpose always gives
        the same key. Raises ValueError when ``purpose`` is empty.
        """
        if not purpose:
            raise ValueError("purpose must not be empty")
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=_INFO_PREFIX + purpose.encode("utf-8"),
        )
        return hkdf.derive(self._material)

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("MasterKey cannot be pickled")


def master_key_from_b64(text: str) -> MasterKey:
    """Parse standard base64 (as written by :meth:`to_b64`).

    Raises InvalidInput when ``text`` is not valid base64 or does not decode
    to exactly 32 bytes. The message never echoes ``text``.
    """
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "master key is not valid base64; expected the base64 of 32 random bytes"
        ) from None
    if len(material) != KEY_BYTES:
        raise InvalidInput(f"master key decodes to {len(material)} bytes; expected {KEY_BYTES}")
    return MasterKey(material)
