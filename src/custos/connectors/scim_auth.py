"""How the SCIM connector authenticates: a static bearer token, or an OAuth 2.0
access token obtained with the client-credentials grant (RFC 6749 §4.4).

Both give ``token()`` (the value for ``Authorization: Bearer``) and
``invalidate()`` (forget a token the service provider refused). Token-endpoint
trouble is mapped into :mod:`custos.connectors.errors` here; the client secret
never appears in an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol
from urllib.parse import quote_plus

import httpx

from custos.config import ConfigError, ScimOAuth2, SecretSource
from custos.connectors.errors import (
    ConnectionFailed,
    ConnectorError,
    PermissionDenied,
    Retryable,
)

#: Refresh this long before the token expires, so a request never carries a
#: token that runs out on the way; short-lived tokens refresh halfway instead.
EXPIRY_MARGIN_S = 30.0


class TokenSource(Protocol):
    def token(self) -> str:
        """A bearer token to send; raises ConnectorError types when none can be had."""
        ...

    def invalidate(self) -> None:
        """Forget the current token (the service provider refused it)."""
        ...


def reveal(secret: SecretSource, what: str) -> str:
    """The secret; a missing variable or file becomes a (non-retryable) ConnectorError."""
    try:
        return secret.reveal()
    except ConfigError as exc:
        raise ConnectorError(f"{what} unavailable: {exc}") from exc


class StaticBearer:
    """A configured bearer token, read at each use so a rotated file takes effect."""

    def __init__(self, secret: SecretSource) -> None:
        self._secret = secret

    def token(self) -> str:
        return reveal(self._secret, "SCIM bearer token")

    def invalidate(self) -> None:
        """Nothing to refresh: a refused static token stays refused."""


class ClientCredentials:
    """OAuth 2.0 client credentials: the access token is cached until
    ``expires_in`` minus a margin (or until refused when the server gives no
    lifetime). Thread-safe: concurrent callers share one token request."""

    def __init__(
        self,
        cfg: ScimOAuth2,
        http: httpx.Client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cfg = cfg
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, self._refresh_at = self._fetch()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self._cfg.scope:
            form["scope"] = self._cfg.scope
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before HTTP Basic.
        auth = httpx.BasicAuth(
            quote_plus(self._cfg.client_id),
            quote_plus(reveal(self._cfg.client_secret, "OAuth2 client secret")),
        )
        started = self._clock()
        try:
            response = self._http.post(
                self._cfg.token_url, data=form, auth=auth, headers={"Accept": "application/json"}
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectionFailed(
                f"OAuth2 token endpoint {self._cfg.token_url} unreachable",
                answer=exc.__class__.__name__,
            ) from exc
        except httpx.TransportError as exc:
            raise Retryable("OAuth2 token request failed", answer=exc.__class__.__name__) from exc
        return self._parse(response, started)

    def _parse(self, response: httpx.Response, started: float) -> tuple[str, float]:
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"OAuth2 token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code in (400, 401, 403):
            # RFC 6749 §5.2: invalid_client, unauthorized_client, invalid_scope...
            answer = str(body.get("error_description") or body.get("error") or "")
            raise PermissionDenied(
                f"OAuth2 token endpoint refused client '{self._cfg.client_id}'",
                answer=answer or f"HTTP {response.status_code}",
            )
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise ConnectorError(
                f"OAuth2 token endpoint answered HTTP {response.status_code} without a token"
            )
        lifetime = body.get("expires_in")
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
            return token, float("inf")
        return token, started + lifetime - min(EXPIRY_MARGIN_S, lifetime / 2)
