"""The signed security webhook through the notice outbox (R-22, R-43; issue 14).

An alert for the security team (an operator anomaly, a fraud flag) is written
to the notice outbox in the transaction of the change it reports, channel
``webhook``, and only the worker's sweep posts it, signed with
``security_webhook_secret`` (``X-Custos-Signature``) as it stands when sent: a
change rolled back sends nothing, a process killed after the commit loses
nothing (the next sweep takes the row once its lease ran out).

A post that fails (the receiver down, a 5xx, a 4xx) is tried again by later
sweeps, ever further apart (:func:`next_try`: as long as the row has waited,
between :data:`FIRST_RETRY` and :data:`LONGEST_WAIT`), for :data:`RETRY_FOR`
after it was queued; then it is given up. Only the outcome goes to the ledger
(``notify:subject:sent``, or ``failed`` when given up, data ``channel:
webhook``); each failed try is logged (status or error type, never the body).
Delivery is at least once: a sweep that dies after posting posts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import httpx
import structlog

from custos.notify.webhook import SecurityWebhook, post_signed
from custos.service.notices import outbox
from custos.service.ports import Services
from custos.store.outbox_repository import OutboxRow
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.webhook")

#: The wait before the first retry, and the longest wait between two.
FIRST_RETRY: Final = timedelta(seconds=30)
LONGEST_WAIT: Final = timedelta(hours=1)
#: How long after it was queued a webhook is still retried.
RETRY_FOR: Final = timedelta(days=1)
#: One try's timeout: a hanging receiver holds the sweep no longer.
TIMEOUT_S: Final = 10.0


def configured(svc: Services) -> bool:
    """Whether the security webhook has both its URL and its secret."""
    s = svc.settings
    return s.security_webhook_url is not None and s.security_webhook_secret is not None


def queue_security_webhook(
    svc: Services,
    uow: UnitOfWork,
    *,
    kind: str,
    payload: dict[str, Any],
    subject_id: str | None = None,
    case_id: str | None = None,
) -> bool:
    """Write the signed security webhook ``payload`` to the outbox in ``uow``'s
    transaction (the worker's sweep posts it once committed). Nothing is queued
    when the webhook is not configured; returns whether it was."""
    if not configured(svc):
        if svc.settings.security_webhook_url is not None:
            log.error("security_webhook_unsigned", problem="security_webhook_secret is not set")
        return False
    hook = SecurityWebhook(kind=kind, payload=payload, case_id=case_id)
    outbox.hold(svc, uow, "webhook", [hook], subject_id=subject_id)
    return True


def post(svc: Services, hook: SecurityWebhook) -> str | None:
    """One signed POST of ``hook`` to the security webhook; None when a 2xx
    answered, otherwise why not (no secret, no body in it)."""
    url, secret = svc.settings.security_webhook_url, svc.settings.security_webhook_secret
    if url is None or secret is None:
        return "the security webhook is no longer configured"
    try:
        delivered = post_signed(
            url,
            secret.get_secret_value().encode("utf-8"),
            hook.payload,
            attempts=1,
            timeout_s=TIMEOUT_S,
        )
    except (httpx.HTTPError, OSError, ValueError) as exc:  # post_signed catches most
        log.warning("webhook_failed", kind=hook.kind, error=type(exc).__name__)
        return f"the security webhook failed ({type(exc).__name__})"
    return None if delivered else "the security webhook did not accept the alert"


def next_try(row: OutboxRow, now: datetime) -> datetime | None:
    """When a webhook whose post just failed is tried again, or None once it
    was retried for :data:`RETRY_FOR` (given up)."""
    waited = now - row.queued_at
    if waited >= RETRY_FOR:
        return None
    return now + min(max(waited, FIRST_RETRY), LONGEST_WAIT)
