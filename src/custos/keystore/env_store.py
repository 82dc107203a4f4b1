"""The sealing key ring from the environment (``CUSTOS_SEALING_KEY``, or
``sealing_key`` in the configuration file): either text form of the ring.

Custos cannot write a process's environment, so this store is read-only: a
rotation needs a store it can write (a file, or a KMS plug-in).
"""

from __future__ import annotations

from collections.abc import Hashable

from custos.credentials.sealing_keys import SealingKeys
from custos.keystore.base import KeyStoreReadOnly


class EnvKeyStore:
    def __init__(self, text: str) -> None:
        self._text = text

    @property
    def description(self) -> str:
        return "the environment (CUSTOS_SEALING_KEY / sealing_key)"

    def load(self) -> SealingKeys:
        return SealingKeys.from_text(self._text)

    def version(self) -> Hashable:
        return 0  # fixed for the life of the process

    def save(self, keys: SealingKeys) -> None:
        raise KeyStoreReadOnly(_READ_ONLY)

    def keep_retired(self, keys: SealingKeys) -> str:
        raise KeyStoreReadOnly(_READ_ONLY)


_READ_ONLY = (
    "the sealing key comes from the environment (CUSTOS_SEALING_KEY or sealing_key), "
    "which Custos cannot write: to rotate it, put the key in a file "
    '(sealing_key_file, sealing_key_store = "file") or use a KMS key store plug-in '
    '(docs/operations.md, "Rotating the sealing key")'
)
