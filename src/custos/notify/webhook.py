"""Signed webhooks: a JSON body POSTed with ``X-Custos-Signature: sha256=<hex>``,
the HMAC-SHA256 of the exact body bytes under a shared secret, retried with
backoff on network errors and 5xx answers. The receiver recomputes the HMAC
over the raw body and compares in constant time."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

log = structlog.get_logger("custos.webhook")

SIGNATURE_HEADER = "X-Custos-Signature"


@dataclass(frozen=True, slots=True)
class SecurityWebhook:
    """One signed POST to the configured security webhook, as the notice outbox
    holds it: ``kind`` names the alert (``operator_anomaly``, ``fraud_flagged``);
    the payload is the body sent. Neither the URL nor the secret is kept: they
    are read from the settings when it is sent."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    case_id: str | None = None


def signature(secret: bytes, body: bytes) -> str:
    """The header value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """The body bytes that get signed and sent (compact, sorted keys)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def post_signed(
    url: str,
    secret: bytes,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    backoff_s: float = 0.5,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST ``payload`` to ``url`` signed with ``secret``; True once a 2xx
    answered. Retries network errors and 5xx up to ``attempts`` times; a 4xx is
    final. Never raises for delivery problems (they are logged); the payload
    is never logged."""
    body = encode(payload)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body)}
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            log.warning("webhook_failed", attempt=attempt, error=type(exc).__name__)
        else:
            if response.is_success:
                return True
            log.warning("webhook_refused", attempt=attempt, status=response.status_code)
            if response.status_code < 500:
                return False
        if attempt < attempts:
            sleep(backoff_s * 2 ** (attempt - 1))
    return False
