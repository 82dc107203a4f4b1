"""A provider's JSON Web Key Set, from a local file or an https URL, cached.

The set is (re)loaded when older than the provider's ``jwks_ttl_s``, and once
more when a token names a key id the cached set lacks (key rotation), but at
most every :data:`MIN_REFRESH`, so tokens with made-up key ids cannot make
Custos hammer the provider. Symmetric (``oct``) keys and keys PyJWT cannot use
are dropped: a JWKS never supplies an HMAC secret.
"""

from __future__ import annotations

import json
import ssl
import threading
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
import jwt

from custos.clock import Clock
from custos.config import IdvProvider

MIN_REFRESH: Final = timedelta(seconds=30)
MAX_JWKS_BYTES: Final = 256 * 1024
ASYMMETRIC_KTY: Final = frozenset({"EC", "RSA", "OKP"})


class JwksUnavailable(Exception):
    """The key set could not be read, fetched or parsed; the message says why."""


class JwksCache:
    """The keys of one provider, by key id. Thread-safe."""

    def __init__(self, provider: IdvProvider, clock: Clock) -> None:
        self._provider = provider
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: datetime | None = None
        self._lock = threading.Lock()
        #: How many times the set was loaded (tests read it to see the cache work).
        self.loads = 0

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The usable key with id ``kid``, or None when the set (refreshed if
        stale, or older than MIN_REFRESH on a miss) has none. Raises
        JwksUnavailable when a needed load fails."""
        now = self._clock.now()
        with self._lock:
            ttl = timedelta(seconds=self._provider.jwks_ttl_s)
            if self._loaded_at is None or now - self._loaded_at >= ttl:
                self._load(now)
            found = self._keys.get(kid)
            if (
                found is None
                and self._loaded_at is not None
                and now - self._loaded_at >= MIN_REFRESH
            ):
                self._load(now)
                found = self._keys.get(kid)
            return found

    def _load(self, now: datetime) -> None:
        document = _parse(self._read())
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or entry.get("kty") not in ASYMMETRIC_KTY:
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                keys[kid] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key this build cannot use is no key
        self._keys = keys
        self._loaded_at = now
        self.loads += 1

    def _read(self) -> bytes:
        provider = self._provider
        if provider.jwks_file is not None:
            try:
                data = provider.jwks_file.read_bytes()
            except OSError as exc:
                raise JwksUnavailable(f"cannot read {provider.jwks_file}: {exc.strerror}") from exc
            return data[: MAX_JWKS_BYTES + 1]
        assert provider.jwks_url is not None
        verify: ssl.SSLContext | bool = True
        if provider.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(provider.ca_file))
        try:
            response = httpx.get(
                provider.jwks_url,
                verify=verify,
                timeout=provider.timeout_s,
                follow_redirects=False,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise JwksUnavailable(f"cannot fetch the JWKS: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise JwksUnavailable(f"the JWKS URL answered {response.status_code}")
        return response.content[: MAX_JWKS_BYTES + 1]


def _parse(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_JWKS_BYTES:
        raise JwksUnavailable("the JWKS is too large")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwksUnavailable("the JWKS is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("the JWKS has no 'keys' list")
    return document
