"""A KMS-style key store plug-in, as a deployment would write one
(``sealing_key_store = "kms_key_store:store"``): the ring's text is kept in a
file wrapped (AES-GCM) by a key-encryption key that stands for the KMS key and
never touches the file. A real plug-in would call the KMS's Encrypt/Decrypt
(or an HSM's wrap/unwrap) where this one calls AESGCM. Test-only."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Hashable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.config import Settings
from custos.credentials.sealing_keys import SealingKeys
from custos.keystore.base import KeyStoreError
from custos.keystore.file_store import write_private

#: Where the "KMS" key comes from in the tests (base64 of 32 bytes).
KEK_ENV = "TEST_KMS_KEK"
_AAD = b"custos-sealing-keys"


class KmsWrappedStore:
    def __init__(self, path: Path, kek: bytes) -> None:
        self.path = path
        self._kms = AESGCM(kek)
        self.calls = {"decrypt": 0, "encrypt": 0}

    @property
    def description(self) -> str:
        return f"test KMS, wrapped ring in {self.path}"

    def load(self) -> SealingKeys:
        if not self.path.exists():
            raise KeyStoreError(f"no wrapped ring at {self.path}")
        blob = base64.b64decode(self.path.read_text(encoding="ascii"))
        self.calls["decrypt"] += 1
        return SealingKeys.from_text(self._kms.decrypt(blob[:12], blob[12:], _AAD).decode())

    def version(self) -> Hashable:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def save(self, keys: SealingKeys) -> None:
        write_private(self.path, self._wrap(keys), replace=True)

    def keep_retired(self, keys: SealingKeys) -> str:
        target = self.path.with_name(f"{self.path.name}.retired-{keys.primary.key_id}")
        if not target.exists():
            write_private(target, self._wrap(keys), replace=False)
        return f"test KMS, wrapped ring in {target}"

    def _wrap(self, keys: SealingKeys) -> str:
        nonce = secrets.token_bytes(12)
        self.calls["encrypt"] += 1
        sealed = self._kms.encrypt(nonce, keys.to_text().encode(), _AAD)
        return base64.b64encode(nonce + sealed).decode("ascii")


def store(settings: Settings) -> KmsWrappedStore:
    """The factory ``sealing_key_store`` names."""
    kek = base64.b64decode(os.environ[KEK_ENV])
    return KmsWrappedStore(settings.data_dir / "sealing-keys.wrapped", kek)


def not_a_store(settings: Settings) -> object:
    return object()
