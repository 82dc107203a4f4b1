"""HTTP for the SCIM connector: one ``httpx.Client`` per target, authentication,
and the mapping of every HTTP outcome into :mod:`custos.connectors.errors`.

=============================================  ==============================
what happened                                  raised
=============================================  ==============================
connect error, connect timeout                 ConnectionFailed (Retryable)
other transport error, read timeout            Retryable
HTTP 429, HTTP 5xx                             Retryable
HTTP 401, 403 (after one token refresh)        PermissionDenied
HTTP 404 on an account's resource              UnknownAccount
HTTP 400 ``invalidValue`` on a password write  PasswordPolicy (server's detail)
anything else outside 2xx                      ConnectorError
=============================================  ==============================
"""

from __future__ import annotations

import ssl
from typing import Any, TypeVar

import httpx
from scim2_models import BaseModel as ScimModel
from scim2_models import Context, Error, ScimPolicy

from custos.config import ScimTarget
from custos.connectors.errors import (
    ConnectorError,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
)
from custos.connectors.http_transport import transport_errors
from custos.connectors.scim_auth import ClientCredentials, StaticBearer, TokenSource

SCIM_JSON = "application/scim+json"
#: Real service providers add extension schemas and vendor attributes the core
#: models do not declare; reading them must not fail.
TOLERANT = ScimPolicy(unknown=ScimPolicy.Unknown.ignore)
_MAX_ANSWER = 300
_Model = TypeVar("_Model", bound=ScimModel)


def _verify(cfg: ScimTarget) -> ssl.SSLContext | bool:
    if cfg.ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(cfg.ca_file))


class ScimHttp:
    """Requests to one SCIM service provider. Thread-safe: the underlying
    ``httpx.Client`` is, and the token source locks its own refresh."""

    def __init__(self, name: str, cfg: ScimTarget) -> None:
        self.name = name
        self.base_url = cfg.base_url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.base_url,
            verify=_verify(cfg),
            timeout=httpx.Timeout(cfg.timeout_s),
            headers={"Accept": SCIM_JSON},
        )
        self.tokens: TokenSource
        if cfg.oauth2 is not None:
            self.tokens = ClientCredentials(cfg.oauth2, self.client)
        else:
            assert cfg.bearer_token is not None  # the config validator demands one
            self.tokens = StaticBearer(cfg.bearer_token)

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
        account: str | None = None,
        secret: str | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one request; returns a 2xx response or raises (see the module table).

        ``account``: the request is about that account, so a 404 is UnknownAccount.
        ``secret``: the request carries this password, so a 400 ``invalidValue``
        is PasswordPolicy, and the secret is struck from any answer.
        """
        response = self.probe(method, path, params=params, body=body, authenticated=authenticated)
        if response.is_success:
            return response
        raise self._error(method, path, response, account, secret)

    def probe(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one request and return the response whatever its status; raises
        ConnectionFailed or Retryable when no answer came, and the token source's
        errors when no token could be had."""
        response = self._send(method, path, params, body, authenticated)
        if response.status_code == 401 and authenticated:
            self.tokens.invalidate()  # an expired or revoked OAuth2 token: fetch one more
            response = self._send(method, path, params, body, authenticated)
        return response

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str | int] | None,
        body: dict[str, Any] | None,
        authenticated: bool,
    ) -> httpx.Response:
        headers = {"Content-Type": SCIM_JSON} if body is not None else {}
        if authenticated:
            headers["Authorization"] = f"Bearer {self.tokens.token()}"
        what = f"SCIM target '{self.name}'"
        with transport_errors(what, self.base_url, method, path, detail=True):
            return self.client.request(method, path, params=params, json=body, headers=headers)

    def _error(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        account: str | None,
        secret: str | None,
    ) -> ConnectorError:
        status = response.status_code
        scim_type, detail = _scim_error(response)
        if secret:
            detail = detail.replace(secret, "***")
        answer = detail[:_MAX_ANSWER] or f"HTTP {status}"
        where = f"SCIM target '{self.name}': {method} {path}"
        if status == 429 or status >= 500:
            return Retryable(f"{where} answered HTTP {status}", answer=answer)
        if status in (401, 403):
            return PermissionDenied(f"{where} refused Custos's credentials", answer=answer)
        if status == 404 and account is not None:
            return UnknownAccount(f"no account '{account}' on SCIM target '{self.name}'")
        if status == 400 and scim_type == "invalidValue" and secret:
            return PasswordPolicy(f"SCIM target '{self.name}' refused the password", answer=answer)
        return ConnectorError(f"{where} answered HTTP {status}", answer=answer)


def _scim_error(response: httpx.Response) -> tuple[str | None, str]:
    """(scimType, detail) of an error response (RFC 7644 §3.12), tolerating non-SCIM bodies."""
    try:
        error = Error.model_validate(response.json(), scim_policy=TOLERANT)
    except ValueError:  # not JSON, or not a SCIM Error
        return None, response.text.strip()
    return error.scim_type, error.detail or ""


def parse(model: type[_Model], response: httpx.Response, ctx: Context) -> _Model:
    """The response body as ``model`` (read tolerantly); an unreadable body is a
    ConnectorError."""
    try:
        parsed: _Model = model.model_validate(response.json(), scim_ctx=ctx, scim_policy=TOLERANT)
    except ValueError as exc:  # a JSON decode error or a pydantic ValidationError
        raise ConnectorError(
            f"unexpected SCIM response from {response.request.url.path}",
            answer=exc.__class__.__name__,
        ) from exc
    return parsed
