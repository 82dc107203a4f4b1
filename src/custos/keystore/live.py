"""The sealing key ring a running process uses: loaded from its store at start
and re-read when the store changes, so that API and worker processes follow a
rotation another process drives (``custos keys rotate-sealing``) without a
restart: they open values under the new key as soon as they meet one, and seal
under it within about :data:`RECHECK_S` of the change."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Final

from custos.credentials.sealing_keys import SealingKeys
from custos.keystore.base import KeyStore

#: How often (seconds) a process asks its store whether the ring changed.
RECHECK_S: Final = 1.0


class LiveKeys:
    """A KeySource following a KeyStore (thread-safe)."""

    def __init__(
        self,
        store: KeyStore,
        *,
        recheck_s: float = RECHECK_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._recheck_s = recheck_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._version: Hashable = store.version()
        self._keys = store.load()
        self._checked = monotonic()

    def current(self) -> SealingKeys:
        now = self._monotonic()
        if now - self._checked < self._recheck_s:
            return self._keys
        with self._lock:
            self._checked = now
            version = self.store.version()
            if version != self._version:
                try:
                    self._load(version)
                except Exception as exc:  # any store, plug-ins included
                    # Keep sealing with the ring in hand (a half-written file, a
                    # KMS outage); the next check retries. Messages carry no key.
                    # structlog imported here: every store-reading command builds
                    # this ring, and structlog (with rich's tracebacks) is slow to load.
                    import structlog

                    structlog.get_logger("custos.keystore").warning(
                        "sealing_keys_unreadable", problem=f"{type(exc).__name__}: {exc}"
                    )
            return self._keys

    def refreshed(self) -> SealingKeys:
        with self._lock:
            self._checked = self._monotonic()
            self._load(self.store.version())
            return self._keys

    def replace(self, keys: SealingKeys) -> None:
        """Save ``keys`` to the store and use them at once in this process."""
        with self._lock:
            self.store.save(keys)
            self._keys = keys
            self._version = self.store.version()
            self._checked = self._monotonic()

    def subkey(self, purpose: str) -> bytes:
        return self.current().subkey(purpose)

    def _load(self, version: Hashable) -> None:
        self._keys = self.store.load()
        self._version = version

    def __repr__(self) -> str:
        return f"LiveKeys({self.store.description})"
