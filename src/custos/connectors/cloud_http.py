"""HTTP for the cloud identity-provider connectors (Entra ID, Okta): one
``httpx.Client`` per target, bounded retries, and the mapping of every HTTP
outcome into :mod:`custos.connectors.errors`.

=============================================  ==============================
what happened                                  raised
=============================================  ==============================
connect error, connect timeout                 ConnectionFailed (Retryable)
other transport error, read timeout            Retryable
HTTP 429 / 5xx, still after the retries        Retryable (the worker backs off)
HTTP 429 asking to wait beyond the bound       Retryable at once (no long sleep)
HTTP 401 (after one fresh token), 403          PermissionDenied
HTTP 404 on an account's resource              UnknownAccount
HTTP 400 the vendor reads as a password rule   PasswordPolicy (vendor's words)
anything else outside 2xx                      ConnectorError
=============================================  ==============================

A 429 or 5xx is tried again up to ``max_retries`` times in the request, waiting
what ``Retry-After`` says (seconds or an HTTP date; on a 429, Okta's
``X-Rate-Limit-Reset`` epoch too, which Okta sends on every answer, so it means
"wait" only there) when it is at most ``max_retry_after_s``, else a short
doubling pause.
Secrets sent in a request are struck from every error text.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from custos.connectors.errors import (
    ConnectorError,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
)
from custos.connectors.http_transport import transport_errors

_MAX_ANSWER = 300
#: The first pause before retrying a 5xx (or a 429 without a wait), doubled each time.
FIRST_PAUSE_S = 0.2


@dataclass(frozen=True, slots=True)
class VendorError:
    """What the vendor's error body says: its code and message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one vendor speaks: the label in messages, how to read an error body,
    and which 400 answers to a password write are its password rules."""

    label: str
    read_error: Callable[[httpx.Response], VendorError]
    is_password_rule: Callable[[VendorError], bool]


@dataclass(frozen=True, slots=True)
class RetryBounds:
    max_retries: int
    max_retry_after_s: float


def tls_verify(ca_file: object) -> ssl.SSLContext | bool:
    """The TLS verification for httpx: the CA bundle given, else the system's."""
    if ca_file is None:
        return True
    return ssl.create_default_context(cafile=str(ca_file))


def stamp(value: object, label: str) -> datetime | None:
    """An ISO 8601 time as the vendor ``label`` writes it (``Z`` or an offset),
    aware; None for no time; ConnectorError for one that cannot be read."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConnectorError(f"unreadable {label} time '{value[:40]}'") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def json_object(response: httpx.Response, label: str) -> dict[str, Any]:
    """The JSON object a 2xx answer carries; ConnectorError for anything else."""
    body = _json_body(response, label)
    if not isinstance(body, dict):
        raise ConnectorError(f"unexpected {label} answer from {response.request.url.path}")
    return body


def json_array(response: httpx.Response, label: str) -> list[Any]:
    """The JSON array a 2xx answer carries; ConnectorError for anything else."""
    body = _json_body(response, label)
    if not isinstance(body, list):
        raise ConnectorError(f"unexpected {label} answer from {response.request.url.path}")
    return body


def _json_body(response: httpx.Response, label: str) -> object:
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectorError(
            f"unexpected {label} answer from {response.request.url.path}", answer="not JSON"
        ) from exc


def retry_after_s(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asks to wait (``Retry-After`` as seconds or an HTTP
    date, or on a 429 Okta's ``X-Rate-Limit-Reset`` epoch seconds); None when it
    says nothing."""
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now())
        except (TypeError, ValueError):
            return None
    reset = response.headers.get("X-Rate-Limit-Reset", "").strip()
    if response.status_code == 429 and reset.isdigit():
        return max(0.0, float(reset) - now())
    return None


class CloudHttp:
    """Requests to one cloud API. Thread-safe (httpx.Client is; the token source
    locks its own refresh). ``authorization(fresh)`` gives the Authorization
    header value, a new one when ``fresh`` (after a 401)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        dialect: Dialect,
        authorization: Callable[[bool], str],
        bounds: RetryBounds,
        verify: ssl.SSLContext | bool,
        timeout_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.dialect = dialect
        self._authorization = authorization
        self._bounds = bounds
        self._sleep = sleep
        self.client = httpx.Client(
            base_url=self.base_url,
            verify=verify,
            timeout=httpx.Timeout(timeout_s),
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        account: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """Send one request; returns a 2xx response or raises (module table).
        ``account``: a 404 is UnknownAccount. ``secret``: the body carries this
        password, so a password-rule 400 is PasswordPolicy, and it is struck
        from any error text."""
        fresh = False
        retries = 0
        while True:
            response = self._send(method, path, params, body, fresh)
            status = response.status_code
            if status == 401 and not fresh:
                fresh = True  # an expired or revoked token: one more with a new one
                continue
            if status == 429 or status >= 500:
                wait = retry_after_s(response)
                if wait is not None and wait > self._bounds.max_retry_after_s:
                    raise self._error(method, path, response, account, secret, waited=wait)
                if retries < self._bounds.max_retries:
                    self._sleep(wait if wait is not None else FIRST_PAUSE_S * 2**retries)
                    retries += 1
                    continue
            if response.is_success:
                return response
            raise self._error(method, path, response, account, secret)

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
        fresh: bool,
    ) -> httpx.Response:
        headers = {"Authorization": self._authorization(fresh)}
        what = f"{self.dialect.label} target '{self.name}'"
        with transport_errors(what, self.base_url, method, path):
            return self.client.request(method, path, params=params, json=body, headers=headers)

    def _error(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        account: str | None,
        secret: str | None,
        waited: float | None = None,
    ) -> ConnectorError:
        status = response.status_code
        found = self.dialect.read_error(response)
        text = f"{found.code}: {found.message}" if found.code else found.message
        if secret:
            text = text.replace(secret, "***")
        answer = text[:_MAX_ANSWER] or f"HTTP {status}"
        where = f"{self.dialect.label} target '{self.name}': {method} {path}"
        if waited is not None:
            return Retryable(
                f"{where} answered HTTP {status} asking to wait {waited:.0f}s "
                f"(more than {self._bounds.max_retry_after_s:.0f}s; the worker retries later)",
                answer=answer,
            )
        if status == 429 or status >= 500:
            return Retryable(f"{where} answered HTTP {status}", answer=answer)
        if status in (401, 403):
            return PermissionDenied(f"{where} refused Custos's credentials", answer=answer)
        if status == 404 and account is not None:
            return UnknownAccount(
                f"no account '{account}' on {self.dialect.label} target '{self.name}'"
            )
        if status == 400 and secret and self.dialect.is_password_rule(found):
            return PasswordPolicy(
                f"{self.dialect.label} target '{self.name}' refused the password", answer=answer
            )
        return ConnectorError(f"{where} answered HTTP {status}", answer=answer)
