"""Push delivery of one SET (RFC 8935): an HTTP POST of the compact JWS with
``Content-Type: application/secevent+jwt``, the stream's ``Authorization``
value when it has one, answered 202 when the receiver accepted it.

What an answer means here:

- 202: delivered.
- 400: refused for good (RFC 8935 §2.3); the body's ``err`` (``invalid_request``,
  ``invalid_key``, ``invalid_issuer``, ``invalid_audience``,
  ``authentication_failed``, ``access_denied``, SSF's ``invalid_state``) and
  ``description`` are kept. Sending the same SET again would meet the same
  refusal (RFC 8935 §4).
- no answer (connection refused, TLS failure, timeout), 401, 403, 408, 425,
  429 or 5xx: worth another try later (the receiver is down, or its
  credentials may be put right meanwhile); a ``Retry-After`` in seconds is kept.
- anything else (another 2xx, a redirect, 404...): refused for good; a
  redirect is never followed, and a 200 (a login page, a proxy) is no receipt.

Nothing of the SET or of the ``Authorization`` value is logged or kept; from
the answer only its status, ``err`` and a shortened ``description``.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx

from custos.config import is_loopback_host
from custos.domain.shared_signals import SET_MEDIA_TYPE

ACCEPTED: Final = 202
RETRYABLE: Final = frozenset({401, 403, 408, 425, 429})
#: How much of an answer is read: an ``err`` and a description fit many times.
MAX_ANSWER_BYTES: Final = 8192
MAX_DESCRIPTION: Final = 200
_ERR = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class PushResult:
    """How one push went. ``status`` is None when no HTTP answer came back;
    ``err`` is the RFC 8935 error code of a 400, when it sent one."""

    verdict: Verdict
    status: int | None
    detail: str
    err: str | None = None
    retry_after_s: float | None = None


def endpoint_problem(url: str, *, allow_insecure: bool) -> str | None:
    """Why ``url`` cannot be a push endpoint, or None: https, or http to this
    machine when ``allow_insecure`` (tests, demos); no credentials, no fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL"
    if parts.username is not None or parts.password is not None:
        return "must not hold credentials (give an authorization header instead)"
    if parts.fragment:
        return "must not have a fragment"
    if parts.scheme == "http":
        if not allow_insecure:
            return (
                "would send SETs in clear text: use https:// (or, for a receiver on this "
                "machine only, set [ssf] allow_insecure_transport = true)"
            )
        if not is_loopback_host(host):
            return "http:// is accepted only for a loopback host (localhost, 127.0.0.0/8, ::1)"
    return None


def make_client(*, timeout_s: float, ca_file: Path | None) -> httpx.Client:
    """The HTTP client pushes go through: TLS 1.2 at least, certificates checked
    (against ``ca_file`` when set), no redirects, no proxy from the environment."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return httpx.Client(verify=context, timeout=timeout_s, follow_redirects=False, trust_env=False)


def push(client: httpx.Client, url: str, token: str, *, authorization: str | None) -> PushResult:
    """POST ``token`` to ``url``. Never raises: every outcome is a PushResult."""
    headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        with client.stream("POST", url, content=token.encode("ascii"), headers=headers) as answer:
            status = answer.status_code
            body = _read_some(answer)
            retry_after = _retry_after(answer.headers.get("retry-after"))
    except httpx.TransportError as exc:
        return PushResult(Verdict.RETRY, None, f"no answer ({type(exc).__name__})")
    if status == ACCEPTED:
        return PushResult(Verdict.DELIVERED, status, "accepted")
    if status == 400:
        err, description = _error_body(body)
        detail = f"refused: {err or 'no err code'}" + (f" ({description})" if description else "")
        return PushResult(Verdict.REFUSED, status, detail, err=err)
    if status in RETRYABLE or status >= 500:
        return PushResult(
            Verdict.RETRY, status, f"answered HTTP {status}", retry_after_s=retry_after
        )
    return PushResult(Verdict.REFUSED, status, f"answered HTTP {status}, not 202")


def _read_some(answer: httpx.Response) -> bytes:
    read = b""
    for chunk in answer.iter_bytes():
        read += chunk
        if len(read) >= MAX_ANSWER_BYTES:
            break
    return read[:MAX_ANSWER_BYTES]


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None  # the HTTP-date form is not honoured: the backoff applies
    return float(value.strip())


def _error_body(body: bytes) -> tuple[str | None, str]:
    """``err`` and ``description`` of an RFC 8935 error answer, made safe to keep:
    an ``err`` that is not a plain code is dropped, the description is shortened
    and freed of control characters."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, ""
    if not isinstance(parsed, dict):
        return None, ""
    err = parsed.get("err")
    description = parsed.get("description")
    safe_err = err if isinstance(err, str) and _ERR.match(err) else None
    text = _CONTROL.sub(" ", description)[:MAX_DESCRIPTION] if isinstance(description, str) else ""
    return safe_err, text.strip()
