"""The Authorization header for Okta's Management API: an API token
(``SSWS <token>``), or an access token from the org authorization server's
client-credentials grant with ``private_key_jwt`` client authentication
(``Bearer <token>``).

The client assertion is a JWT signed with the service app's private key
(``iss`` = ``sub`` = client id, ``aud`` = the token endpoint, a fresh ``jti``,
five minutes' life), as Okta's "Build a JWT for client authentication" and the
OAuth 2.0 API description (``/oauth2/v1/token``) say. Access tokens are cached
until a minute before they expire; ``fresh`` (after a 401) fetches a new one.
Failures map into :mod:`custos.connectors.errors`; neither the private key nor
a token appears in one.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import httpx
import jwt

from custos.config import ConfigError, OktaOAuth, OktaTarget
from custos.connectors.errors import ConnectorError, PermissionDenied, Retryable
from custos.connectors.http_transport import transport_errors

#: OAuth error codes (RFC 6749 §5.2) no retry cures: the app, its key or its scopes.
REFUSALS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request", "invalid_grant"}
)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Seconds before its expiry that a cached token is no longer used.
EARLY_S = 60


def api_token_authorization(name: str, cfg: OktaTarget) -> str:
    """``SSWS <token>``; raises ConnectorError when the secret cannot be read."""
    assert cfg.api_token is not None
    try:
        return f"SSWS {cfg.api_token.reveal()}"
    except ConfigError as exc:
        raise ConnectorError(f"Okta API token of target '{name}' unavailable: {exc}") from exc


class OktaTokens:
    """Access tokens for one Okta target's service app; thread-safe."""

    def __init__(self, name: str, cfg: OktaTarget, client: httpx.Client) -> None:
        assert cfg.oauth is not None
        self._name = name
        self._oauth: OktaOAuth = cfg.oauth
        self._token_url = f"{cfg.base_url}/oauth2/v1/token"
        self._client = client
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    @property
    def token_url(self) -> str:
        return self._token_url

    def authorization(self, fresh: bool) -> str:
        """``Bearer <token>``; ``fresh``: drop the cached token first (Okta refused it)."""
        with self._lock:
            if fresh or not self._token or time.monotonic() >= self._expires:
                self._token, lifetime = self._request()
                self._expires = time.monotonic() + max(0.0, lifetime - EARLY_S)
            return f"Bearer {self._token}"

    def _assertion(self) -> str:
        try:
            key = self._oauth.private_key.reveal()
        except ConfigError as exc:
            raise ConnectorError(
                f"Okta private key of target '{self._name}' unavailable: {exc}"
            ) from exc
        now = int(time.time())
        claims = {
            "iss": self._oauth.client_id,
            "sub": self._oauth.client_id,
            "aud": self._token_url,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(24),
        }
        headers = {"kid": self._oauth.key_id} if self._oauth.key_id else None
        try:
            return jwt.encode(claims, key, algorithm=self._oauth.algorithm, headers=headers)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConnectorError(
                f"Okta target '{self._name}': the private key cannot sign "
                f"{self._oauth.algorithm} (check private_key and algorithm)",
                answer=exc.__class__.__name__,
            ) from exc

    def _request(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(self._oauth.scopes),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self._assertion(),
        }
        what = f"Okta token endpoint of target '{self._name}'"
        with transport_errors(what, self._token_url, "POST", "/oauth2/v1/token"):
            response = self._client.post(self._token_url, data=form)
        body = _json(response)
        token = body.get("access_token")
        if response.is_success and isinstance(token, str) and token:
            lifetime = body.get("expires_in")
            return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0
        raise self._refusal(response.status_code, body)

    def _refusal(self, status: int, body: dict[str, Any]) -> ConnectorError:
        error = str(body.get("error") or body.get("errorCode") or "")
        description = str(body.get("error_description") or body.get("errorSummary") or "")
        answer = f"{error}: {description}"[:300] if description else error or f"HTTP {status}"
        if error in REFUSALS or status in (400, 401, 403):
            return PermissionDenied(
                f"Okta token endpoint refused client '{self._oauth.client_id}' "
                f"of target '{self._name}'",
                answer=answer,
            )
        return Retryable(f"Okta token endpoint gave no token to '{self._name}'", answer=answer)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
