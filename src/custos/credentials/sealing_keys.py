"""The sealing key ring: the key that seals new values (the primary), the keys
that still open older values while a rotation re-seals them (readable), and the
MAC subkeys carried over from earlier keys.

Why carried subkeys: besides sealing, the master key derives the keys of
one-way digests (issued codes, proofed attributes, device cookies, ...; see
:data:`MAC_PURPOSES`). A digest cannot be re-computed under a new key, so a
rotation keeps those subkeys exactly as they were; it keeps the derived bytes,
never the old master key, so the new ring alone opens nothing sealed under the
old key. A purpose first used after a rotation derives from the primary.

Text form (a key file, ``CUSTOS_SEALING_KEY``, a KMS plug-in's payload):

- one line of base64 (32 bytes): a ring of that one key, as ``custos keys
  generate`` writes it;
- JSON ``{"format": "custos-sealing-keys/1", "primary": B64, "readable": [B64,
  ...], "carried": {purpose: B64}}``, as a rotation writes it.

Pure: no I/O. Stores live in ``custos.keystore``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from custos.credentials.keys import KEY_BYTES, MasterKey
from custos.domain.errors import InvalidInput

FORMAT: Final = "custos-sealing-keys/1"

#: Every purpose a MAC (digest) subkey is derived for. A new purpose must be
#: added here: :meth:`SealingKeys.subkey` refuses any other, so that no digest
#: silently changes at the next rotation.
MAC_PURPOSES: Final = frozenset(
    {
        "custos/codes/v1",
        "custos/device-cookie/v1",
        "custos/proofed-attributes/v1",
        "custos/reset-progress/v1",
        "custos/console/sso/v1",
    }
)


class SealingKeysInvalid(InvalidInput):
    """A key ring's text is not a ring (the message never echoes key material)."""

    error_id = "sealing_keys_invalid"


class KeySource(Protocol):
    """What a Sealer and the MAC users read keys from: a fixed ring, or a ring
    that follows its store (``custos.keystore.live.LiveKeys``)."""

    def current(self) -> SealingKeys:
        """The ring to use now (may re-read the store when it changed)."""
        ...

    def refreshed(self) -> SealingKeys:
        """The ring re-read from its store now (a blob named an unknown key)."""
        ...

    def subkey(self, purpose: str) -> bytes:
        """The MAC subkey for ``purpose`` (one of :data:`MAC_PURPOSES`)."""
        ...


@dataclass(frozen=True, slots=True)
class SealingKeys:
    """One ring. ``readable`` keys open values; only ``primary`` seals."""

    primary: MasterKey
    readable: tuple[MasterKey, ...] = ()
    carried: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.carried) - MAC_PURPOSES
        if unknown:
            raise SealingKeysInvalid(f"carried subkeys for unknown purposes: {sorted(unknown)}")
        if any(len(v) != KEY_BYTES for v in self.carried.values()):
            raise SealingKeysInvalid(f"a carried subkey is not {KEY_BYTES} bytes")
        ids = [k.key_id for k in self.keys]
        if len(set(ids)) != len(ids):
            raise SealingKeysInvalid("a key appears twice in the ring")

    # -- KeySource, for a fixed ring ------------------------------------------------
    def current(self) -> SealingKeys:
        return self

    def refreshed(self) -> SealingKeys:
        return self

    def subkey(self, purpose: str) -> bytes:
        """The MAC subkey for ``purpose``: carried over when a rotation kept it,
        else derived from the primary. Raises ValueError for a purpose that is
        not in :data:`MAC_PURPOSES` (sealing keys are per key: see Sealer)."""
        if purpose not in MAC_PURPOSES:
            raise ValueError(f"'{purpose}' is not a registered MAC purpose (MAC_PURPOSES)")
        carried = self.carried.get(purpose)
        return carried if carried is not None else self.primary.subkey(purpose)

    # -- the ring --------------------------------------------------------------------
    @property
    def keys(self) -> tuple[MasterKey, ...]:
        """The primary first, then every readable key."""
        return (self.primary, *self.readable)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    def opening(self, key_id: str) -> MasterKey | None:
        """The key of ``key_id`` (hex) in this ring, or None."""
        return next((k for k in self.keys if k.key_id == key_id), None)

    def rotated_to(self, new: MasterKey) -> SealingKeys:
        """The ring of a rotation under way: ``new`` seals, every current key
        still opens, and every MAC subkey in use now is carried."""
        return SealingKeys(
            primary=new,
            readable=self.keys,
            carried={p: self.subkey(p) for p in sorted(MAC_PURPOSES)},
        )

    def without_readable(self) -> SealingKeys:
        """The ring once a rotation ended: the primary and the carried subkeys."""
        return SealingKeys(primary=self.primary, carried=self.carried)

    # -- text form -------------------------------------------------------------------
    def to_text(self) -> str:
        """One base64 line for a plain single key, else the JSON form."""
        if not self.readable and not self.carried:
            return self.primary.to_b64() + "\n"
        document = {
            "format": FORMAT,
            "primary": self.primary.to_b64(),
            "readable": [k.to_b64() for k in self.readable],
            "carried": {p: _b64(v) for p, v in sorted(self.carried.items())},
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_text(cls, text: str) -> SealingKeys:
        """See :func:`sealing_keys_from_text` (a plain function: mutmut does not mutate
        decorated ones)."""
        return sealing_keys_from_text(text)

    def __repr__(self) -> str:
        return f"SealingKeys(key_ids={list(self.key_ids)!r}, carried={sorted(self.carried)!r})"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealingKeysInvalid("a carried subkey is not valid base64") from None


def sealing_keys_from_text(text: str) -> SealingKeys:
    """Parse either text form. Raises SealingKeysInvalid (or InvalidInput for
    a malformed key) without echoing the text."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return SealingKeys(primary=MasterKey.from_b64(stripped))
    try:
        document = json.loads(stripped)
    except ValueError:
        raise SealingKeysInvalid("the sealing key ring is not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SealingKeysInvalid(f"the sealing key ring is not of format {FORMAT}")
    readable = document.get("readable", [])
    carried = document.get("carried", {})
    if not isinstance(readable, list) or not isinstance(carried, dict):
        raise SealingKeysInvalid("'readable' must be a list and 'carried' an object")
    return SealingKeys(
        primary=MasterKey.from_b64(str(document.get("primary", ""))),
        readable=tuple(MasterKey.from_b64(str(k)) for k in readable),
        carried={str(p): _unb64(str(v)) for p, v in carried.items()},
    )
