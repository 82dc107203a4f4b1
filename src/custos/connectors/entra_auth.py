"""Access tokens for Microsoft Graph: the OAuth 2.0 client-credentials grant
through MSAL (``msal.ConfidentialClientApplication``), so the token requests are
formed by Microsoft's own library.

MSAL reads the authority's OpenID configuration
(``<authority>/v2.0/.well-known/openid-configuration``) when the application is
built, which happens at the first token request (so a target that is down at
start does not stop Custos), and caches the token until shortly before it
expires. Instance discovery is off: the authority is the configured one, and
MSAL would otherwise ask login.microsoftonline.com about any other host.

Failures map into :mod:`custos.connectors.errors`; the client secret never
appears in one.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from custos.config import ConfigError, EntraTarget
from custos.connectors.errors import ConnectionFailed, ConnectorError, PermissionDenied, Retryable

#: OAuth error codes (RFC 6749 §5.2) that no retry can cure: the app
#: registration, its secret or its permissions are wrong.
REFUSALS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request", "invalid_grant"}
)


def graph_scope(graph_url: str) -> str:
    """The ``.default`` scope of the Graph resource at ``graph_url``'s origin
    (``https://graph.microsoft.com/.default`` for the public cloud)."""
    parts = urlsplit(graph_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


class _PinnedSession(requests.Session):
    """A requests session whose ``verify`` holds for every request: requests lets
    ``REQUESTS_CA_BUNDLE`` in the environment override a session's own setting
    (psf/requests#3829), which would drop the configured ``ca_file``."""

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


class GraphTokens:
    """Bearer tokens for one Entra target; thread-safe."""

    def __init__(self, name: str, cfg: EntraTarget) -> None:
        self._name = name
        self._cfg = cfg
        self._scopes = [graph_scope(cfg.graph_url)]
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None

    def authorization(self, fresh: bool) -> str:
        """``Bearer <token>``; ``fresh``: drop the cached token first (Graph refused it)."""
        with self._lock:
            app = self._application()
            if fresh:
                app.remove_tokens_for_client()
            try:
                result: dict[str, Any] = app.acquire_token_for_client(scopes=self._scopes)
            except requests.RequestException as exc:
                raise self._unreachable(exc) from exc
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return f"Bearer {token}"
        raise self._refusal(result)

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is not None:
            return self._app
        try:
            secret = self._cfg.client_secret.reveal()
        except ConfigError as exc:
            raise ConnectorError(f"Entra client secret unavailable: {exc}") from exc
        session = _PinnedSession()
        session.verify = str(self._cfg.ca_file) if self._cfg.ca_file else True
        try:
            self._app = msal.ConfidentialClientApplication(
                self._cfg.client_id,
                client_credential=secret,
                authority=self._cfg.authority,
                instance_discovery=False,
                http_client=session,
                timeout=self._cfg.timeout_s,
            )
        except requests.RequestException as exc:
            raise self._unreachable(exc) from exc
        except ValueError as exc:  # MSAL: no OpenID configuration at the authority
            raise ConnectorError(
                f"Entra target '{self._name}': authority {self._cfg.authority} has no "
                "usable OpenID configuration (check tenant_id and authority_host)",
                answer=str(exc)[:300],
            ) from exc
        return self._app

    def _unreachable(self, exc: Exception) -> ConnectorError:
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return ConnectionFailed(
                f"Entra token authority {self._cfg.authority} unreachable",
                answer=exc.__class__.__name__,
            )
        return Retryable(
            f"Entra token request to {self._cfg.authority} failed", answer=exc.__class__.__name__
        )

    def _refusal(self, result: dict[str, Any]) -> ConnectorError:
        error = str(result.get("error") or "")
        description = str(result.get("error_description") or "").split("\r\n")[0]
        answer = f"{error}: {description}"[:300] if description else error or "no token"
        if error in REFUSALS:
            return PermissionDenied(
                f"Entra token authority refused client '{self._cfg.client_id}' "
                f"of target '{self._name}'",
                answer=answer,
            )
        return Retryable(f"Entra token authority gave no token to '{self._name}'", answer=answer)
