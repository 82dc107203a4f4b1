"""The key store protocol: what a sealing key ring's home must do.

A store keeps one :class:`~custos.credentials.sealing_keys.SealingKeys` ring. A
KMS or HSM plug-in typically keeps the ring's text wrapped (encrypted) by a key
that never leaves the KMS, and unwraps it in :meth:`KeyStore.load`; see
docs/operations.md, "Key stores", for a sketch.

Errors::

    ConfigError (config_invalid)
    └── KeyStoreError          config_invalid       unreadable, missing, too open
        └── KeyStoreReadOnly   key_store_read_only  the store cannot be written
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol, runtime_checkable

from custos.config import ConfigError
from custos.credentials.sealing_keys import SealingKeys


class KeyStoreError(ConfigError):
    """The ring cannot be read: a configuration problem (``config_invalid``)."""


class KeyStoreReadOnly(KeyStoreError):
    error_id = "key_store_read_only"


@runtime_checkable
class KeyStore(Protocol):
    """The home of the sealing key ring."""

    @property
    def description(self) -> str:
        """Where the ring is, for messages (``file /etc/custos/sealing.key``);
        never key material."""
        ...

    def load(self) -> SealingKeys:
        """The ring as stored now. Raises KeyStoreError when it cannot be read."""
        ...

    def version(self) -> Hashable:
        """A cheap token that changes whenever :meth:`load` would answer another
        ring (a file's size and modification time). Called about once a second
        by every process: a remote store should answer from a cache."""
        ...

    def save(self, keys: SealingKeys) -> None:
        """Replace the stored ring atomically (a reader sees the old ring or the
        new one, never a mix). Raises KeyStoreReadOnly when the store cannot be
        written by Custos."""
        ...

    def keep_retired(self, keys: SealingKeys) -> str:
        """Keep ``keys`` (a ring about to be replaced by a rotation) outside the
        live ring, readable again by an operator, and return where it is (a
        path, a KMS name). Never deletes anything; keeping the same ring twice
        answers the same place. Raises KeyStoreReadOnly like :meth:`save`."""
        ...
