"""HTTP for the LemonLDAP::NG connector: one ``httpx.Client`` per target, HTTP
Basic authentication, and the mapping of every HTTP outcome into
:mod:`custos.connectors.errors`.

=============================================  ==============================
what happened                                  raised
=============================================  ==============================
connect error, connect timeout                 ConnectionFailed (Retryable)
other transport error, read timeout            Retryable
HTTP 429, HTTP 5xx                             Retryable
HTTP 401, 403                                  PermissionDenied
HTTP 404                                       ConnectorError (module not served)
anything else outside 2xx, a body not JSON     ConnectorError
=============================================  ==============================

The Manager's answers never carry a secret Custos sent (Custos sends none but
the Basic credential, which no answer echoes); session ids it lists are
enciphered by the Manager unless it is configured to show them, and are never
logged or put into an error either way.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from custos.config import LemonLdapTarget
from custos.connectors.errors import (
    ConnectorError,
    PermissionDenied,
    Retryable,
)
from custos.connectors.http_transport import transport_errors

_MAX_ANSWER = 300


def _verify(cfg: LemonLdapTarget) -> ssl.SSLContext | bool:
    if cfg.ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(cfg.ca_file))


class LemonLdapHttp:
    """Requests to one LemonLDAP::NG Manager; thread-safe as ``httpx.Client`` is."""

    def __init__(self, name: str, cfg: LemonLdapTarget) -> None:
        self.name = name
        self.base_url = cfg.url.rstrip("/")
        self._cfg = cfg
        self.client = httpx.Client(
            base_url=self.base_url,
            verify=_verify(cfg),
            timeout=httpx.Timeout(cfg.timeout_s),
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self.client.close()

    def json(self, method: str, path: str, *, params: dict[str, str] | None = None) -> Any:
        """Send one request; returns the JSON body of a 2xx answer or raises
        (see the module table)."""
        response = self.send(method, path, params=params)
        if not response.is_success:
            raise self._error(method, path, response)
        try:
            return response.json()
        except ValueError as exc:
            raise ConnectorError(
                f"LemonLDAP::NG target '{self.name}': {method} {path} answered no JSON",
                answer=response.text.strip()[:_MAX_ANSWER] or f"HTTP {response.status_code}",
            ) from exc

    def send(
        self, method: str, path: str, *, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """Send one request and return the response whatever its status; raises
        ConnectionFailed or Retryable when no answer came."""
        auth = httpx.BasicAuth(self._cfg.username, self._cfg.password.reveal())
        what = f"LemonLDAP::NG target '{self.name}'"
        with transport_errors(what, self.base_url, method, path, detail=True):
            return self.client.request(method, path, params=params, auth=auth)

    def _error(self, method: str, path: str, response: httpx.Response) -> ConnectorError:
        status = response.status_code
        answer = _detail(response)[:_MAX_ANSWER] or f"HTTP {status}"
        where = f"LemonLDAP::NG target '{self.name}': {method} {path}"
        if status == 429 or status >= 500:
            return Retryable(f"{where} answered HTTP {status}", answer=answer)
        if status in (401, 403):
            return PermissionDenied(f"{where} refused Custos's credentials", answer=answer)
        if status == 404:
            return ConnectorError(
                f"{where} answered HTTP 404: is the Manager serving its 'sessions' and "
                "'api' modules at this URL?",
                answer=answer,
            )
        return ConnectorError(f"{where} answered HTTP {status}", answer=answer)


def _detail(response: httpx.Response) -> str:
    """The Manager's own words: ``{"error": "..."}`` when it sent JSON."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.text.strip()
