"""The provider's metadata (OpenID Connect Discovery 1.0) and key set, cached.

The discovery document is read from ``<issuer>/.well-known/openid-configuration``
and must name the configured issuer exactly (Discovery §4.3); every endpoint it
names must use https, unless ``allow_insecure_transport`` is set and the
endpoint is on this machine. The metadata is kept :data:`METADATA_TTL`; the key
set :data:`JWKS_TTL`, and is read again when a token names a key id the cached
set lacks (key rotation), at most every :data:`MIN_REFRESH` so that made-up key
ids cannot make Custos hammer the provider. Symmetric keys are dropped: a JWKS
never supplies an HMAC secret.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx2
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from custos.clock import Clock
from custos.config import OidcConfig, is_loopback_host
from custos.sso.errors import ProviderUnavailable

METADATA_TTL: Final = timedelta(hours=1)
JWKS_TTL: Final = timedelta(minutes=5)
MIN_REFRESH: Final = timedelta(seconds=30)
MAX_DOCUMENT_BYTES: Final = 256 * 1024
ASYMMETRIC_KTY: Final = frozenset({"EC", "RSA", "OKP"})
WELL_KNOWN: Final = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    #: How Custos authenticates at the token endpoint: client_secret_basic or _post.
    token_auth_method: str


def tls_verify(config: OidcConfig) -> ssl.SSLContext | bool:
    """The certificate check for the provider: its CA bundle, or the system's."""
    if config.ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(config.ca_file))


def http_client(config: OidcConfig) -> httpx2.Client:
    """A client for the provider's public documents (no redirects followed)."""
    return httpx2.Client(
        verify=tls_verify(config),
        timeout=config.timeout_s,
        follow_redirects=False,
        headers={"Accept": "application/json"},
    )


def read_json(client: httpx2.Client, url: str, what: str) -> dict[str, Any]:
    """GET ``url`` and parse a JSON object. Raises ProviderUnavailable naming ``what``."""
    try:
        response = client.get(url)
    except httpx2.HTTPError as exc:
        raise ProviderUnavailable(
            f"the provider's {what} cannot be read ({type(exc).__name__})"
        ) from exc
    if response.status_code != 200:
        raise ProviderUnavailable(f"the provider's {what} answered HTTP {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(f"the provider's {what} is too large")
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderUnavailable(f"the provider's {what} is not JSON") from exc
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"the provider's {what} is not a JSON object")
    return document


def _endpoint(document: dict[str, Any], name: str, config: OidcConfig) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise ProviderUnavailable(f"the provider's discovery document has no {name}")
    parts = urlsplit(value)
    secure = parts.scheme == "https"
    local = parts.scheme == "http" and is_loopback_host(parts.hostname)
    if not (secure or (local and config.allow_insecure_transport)):
        raise ProviderUnavailable(f"the provider's {name} is not an https URL")
    return value


def _token_auth_method(document: dict[str, Any]) -> str:
    # Discovery §3: when absent, the default is client_secret_basic.
    supported = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    for method in ("client_secret_basic", "client_secret_post"):
        if method in supported:
            return method
    raise ProviderUnavailable(
        "the provider's token endpoint takes neither client_secret_basic nor client_secret_post"
    )


def parse_metadata(document: dict[str, Any], config: OidcConfig) -> ProviderMetadata:
    """Check a discovery document against the configuration. Raises ProviderUnavailable."""
    if document.get("issuer") != config.issuer:
        raise ProviderUnavailable(
            "the provider's discovery document names another issuer than the configured one"
        )
    userinfo = (
        _endpoint(document, "userinfo_endpoint", config)
        if document.get("userinfo_endpoint")
        else None
    )
    return ProviderMetadata(
        issuer=config.issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint", config),
        token_endpoint=_endpoint(document, "token_endpoint", config),
        jwks_uri=_endpoint(document, "jwks_uri", config),
        userinfo_endpoint=userinfo,
        token_auth_method=_token_auth_method(document),
    )


def parse_key_set(document: dict[str, Any]) -> KeySet:
    """The usable asymmetric keys of a JWKS. Raises ProviderUnavailable."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ProviderUnavailable("the provider's key set has no 'keys' list")
    keys = [e for e in entries if isinstance(e, dict) and e.get("kty") in ASYMMETRIC_KTY]
    usable: list[dict[str, Any]] = []
    for entry in keys:
        try:
            KeySet.import_key_set({"keys": [entry]})
        except (JoseError, ValueError, TypeError):
            continue  # a key this build cannot use is no key
        usable.append(entry)
    if not usable:
        raise ProviderUnavailable("the provider's key set holds no usable signing key")
    return KeySet.import_key_set({"keys": usable})


class ProviderDirectory:
    """One provider's metadata and keys, cached. Thread-safe."""

    def __init__(self, config: OidcConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at: datetime | None = None
        self._keys: KeySet | None = None
        self._keys_at: datetime | None = None
        #: How many times the key set was read (tests read it to see the cache work).
        self.key_loads = 0

    def metadata(self) -> ProviderMetadata:
        """The provider's checked metadata. Raises ProviderUnavailable."""
        now = self._clock.now()
        with self._lock:
            if (
                self._metadata is None
                or self._metadata_at is None
                or now - self._metadata_at >= METADATA_TTL
            ):
                with http_client(self._config) as client:
                    document = read_json(
                        client, self._config.issuer.rstrip("/") + WELL_KNOWN, "discovery document"
                    )
                self._metadata = parse_metadata(document, self._config)
                self._metadata_at = now
            return self._metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys; ``refresh`` reads them again unless they
        were read less than MIN_REFRESH ago. Raises ProviderUnavailable."""
        metadata = self.metadata()
        now = self._clock.now()
        with self._lock:
            age = None if self._keys_at is None else now - self._keys_at
            stale = age is None or age >= JWKS_TTL or (refresh and age >= MIN_REFRESH)
            if self._keys is None or stale:
                with http_client(self._config) as client:
                    document = read_json(client, metadata.jwks_uri, "key set")
                self._keys = parse_key_set(document)
                self._keys_at = now
                self.key_loads += 1
            return self._keys
