"""The sealing key ring in a file (mode 0600), the default store.

``custos keys generate`` writes one base64 line; a rotation replaces the file
atomically (a temporary file in the same folder, fsynced, renamed over it) with
the ring's JSON form, and keeps the ring it replaces beside it as
``<name>.retired-<key id>`` (mode 0600), never deleting it.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path

from custos.credentials.keys import MasterKey
from custos.credentials.sealing_keys import SealingKeys
from custos.domain.errors import InvalidInput
from custos.keystore.base import KeyStoreError


class FileKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def description(self) -> str:
        return f"file {self.path}"

    def load(self) -> SealingKeys:
        if not self.path.exists():
            raise KeyStoreError(
                "no sealing key: set CUSTOS_SEALING_KEY or create "
                f"{self.path} with 'custos keys generate'"
            )
        if self.path.stat().st_mode & 0o077:
            raise KeyStoreError(
                f"sealing key file {self.path} must not be readable by others (chmod 600)"
            )
        try:
            return SealingKeys.from_text(self.path.read_text(encoding="ascii"))
        except (InvalidInput, UnicodeDecodeError) as exc:
            why = exc.message if isinstance(exc, InvalidInput) else "not ASCII text"
            raise KeyStoreError(f"sealing key file {self.path}: {why}") from None

    def version(self) -> Hashable:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def save(self, keys: SealingKeys) -> None:
        write_private(self.path, keys.to_text(), replace=True)

    def keep_retired(self, keys: SealingKeys) -> str:
        target = self.path.with_name(f"{self.path.name}.retired-{keys.primary.key_id}")
        text = keys.to_text()
        if target.exists():
            if target.read_text(encoding="ascii") == text:
                return str(target)
            raise KeyStoreError(f"{target} exists and holds another ring; move it away first")
        write_private(target, text, replace=False)
        return str(target)


def generate_key_file(path: Path) -> MasterKey:
    """Write a new single-key ring into ``path`` with mode 0600 (refuses to
    overwrite an existing file: it seals live secrets)."""
    key = MasterKey.generate()
    write_private(path, SealingKeys(primary=key).to_text(), replace=False)
    return key


def write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to ``path`` with mode 0600 and fsync it. ``replace``: swap
    it in atomically over an existing file; otherwise refuse an existing one
    (FileExistsError)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}") if replace else path
    if replace:
        staging.unlink(missing_ok=True)  # left by a process of the same pid that died
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace:
        os.replace(staging, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
