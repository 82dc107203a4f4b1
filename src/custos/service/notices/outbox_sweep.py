"""The worker's sweep of the notice outbox, the only place messages are sent
from (R-19, R-22): every pass it takes the rows due (new ones, and ones whose
earlier sweep died before recording them), sends them grouped per subject, kind
and case, and records each group's outcome in the ledger as it drops the rows,
in one transaction."""

from __future__ import annotations

from collections import defaultdict

import structlog

from custos.credentials.sealed import SealError
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR
from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.service.notices import dispatch as notices
from custos.service.notices import outbox, sms
from custos.service.ports import Services
from custos.store.outbox_repository import OutboxRow

log = structlog.get_logger("custos.notify")

#: Rows taken per sweep.
LIMIT = 200


def deliver_due(svc: Services, *, limit: int = LIMIT) -> int:
    """Send up to ``limit`` messages waiting in the outbox; returns how many rows
    were handled (sent, failed or unreadable: each is recorded in the ledger).
    Never raises for a delivery: a failure is recorded (``notices.send``)."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        if not uow.outbox.any_due(now=now):
            return 0
    with svc.uow() as uow:
        rows = uow.outbox.claim_due(now=now, until=now + outbox.LEASE, limit=limit)
        uow.commit()
    if not rows:
        return 0
    emails: dict[tuple[str | None, str, str | None], list[Message]] = defaultdict(list)
    texts: dict[tuple[str | None, str, str | None], list[SmsMessage]] = defaultdict(list)
    events: list[DomainEvent] = []
    for row in rows:
        try:
            message = outbox.opened(svc, row)
        except (SealError, TypeError, ValueError) as exc:
            events.append(_unreadable(svc, row, exc))
            continue
        key = (row.subject_id, message.kind, message.case_id)
        if isinstance(message, SmsMessage):
            texts[key].append(message)
        else:
            emails[key].append(message)
    for (subject_id, _, _), batch in emails.items():
        events.append(notices.send(svc, batch, subject_id=subject_id))
    for (subject_id, _, _), text_batch in texts.items():
        events.append(sms.send_texts(svc, text_batch, subject_id=subject_id))
    log.info("outbox_delivered", count=len(rows))
    outbox.settle(svc, events, (row.id for row in rows))
    return len(rows)


def _unreadable(svc: Services, row: OutboxRow, exc: Exception) -> DomainEvent:
    """A row that no longer unseals (the sealing key changed, or it was altered):
    recorded as a failed delivery, by type, and dropped."""
    log.error("outbox_row_unreadable", channel=row.channel, error=type(exc).__name__)
    return DomainEvent(
        type=EventType.NOTIFICATION_FAILED,
        occurred_at=svc.clock.now(),
        actor=SYSTEM_ACTOR,
        subject_id=row.subject_id,
        case_id=None,
        outcome=Outcome.FAILURE,
        reason=f"a queued message could not be read back ({type(exc).__name__})",
        data={"kind": "unknown", "channel": row.channel, "recipients": 1, "delivered": 0},
    )
