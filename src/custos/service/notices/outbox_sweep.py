"""The worker's sweep of the notice outbox, the only place messages are sent
from (R-19, R-22): every pass it takes the rows due (new ones, and ones whose
earlier sweep died before recording them), sends them grouped per subject, kind
and case, and records each group's outcome in the ledger as it drops the rows,
in one transaction. A security webhook is posted on its own; one whose post
failed is put back for a later sweep (``webhooks.next_try``) until given up.
The one other sender is ``deliver_handover``: the worker's recovery notices,
written leased to it, sent by it right after their transaction committed and
recorded the same way (the sweep takes them only if that lease runs out)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import structlog

from custos.credentials.sealed import SealError
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR
from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.notify.webhook import SecurityWebhook
from custos.service.notices import dispatch as notices
from custos.service.notices import outbox, sms, webhooks
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
    until = now + outbox.LEASE
    with svc.uow() as uow:
        rows = uow.outbox.claim_due(now=now, until=until, limit=limit)
        uow.commit()
    if not rows:
        return 0
    emails: dict[tuple[str | None, str, str | None], list[Message]] = defaultdict(list)
    texts: dict[tuple[str | None, str, str | None], list[SmsMessage]] = defaultdict(list)
    hooks: list[tuple[OutboxRow, SecurityWebhook]] = []
    events: list[DomainEvent] = []
    for row in rows:
        try:
            message = outbox.opened(svc, row)
        except (SealError, TypeError, ValueError) as exc:
            events.append(_unreadable(svc, row, exc))
            continue
        if isinstance(message, SecurityWebhook):
            hooks.append((row, message))
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
    later: list[tuple[str, datetime]] = []
    for row, hook in hooks:
        due = _post(svc, row, hook, events)
        if due is not None:
            later.append((row.id, due))
    log.info("outbox_delivered", count=len(rows) - len(later), retry=len(later))
    retried = {row_id for row_id, _ in later}
    done = [row.id for row in rows if row.id not in retried]
    outbox.settle(svc, events, done, later=later, leased_until=until)
    return len(rows)


def deliver_handover(svc: Services, handover: outbox.Handover) -> int:
    """Send the mail a worker held leased to itself (``outbox.hold_leased``), once
    the transaction that wrote it committed, from the messages it still holds:
    no claim, no unseal. Each batch is sent and recorded as the sweep would
    (``notices.send``: one ledger record per batch, in the transaction that
    drops its rows). Should the process die before that transaction, the rows
    are due to the sweep once the lease ran out and go out again then (at least
    once). No batch is begun once half the lease has passed: those rows are
    left to the sweep after the lease, so no sweep sends a row while this
    worker still may. Never raises for a delivery. Returns how many rows it
    handled."""
    stop_at = handover.leased_until - outbox.LEASE / 2
    events: list[DomainEvent] = []
    done: list[str] = []
    for at, (ids, messages, subject_id) in enumerate(handover.batches):
        if not messages:
            continue
        if svc.clock.now() >= stop_at:
            log.warning("outbox_handover_late", batches_left=len(handover.batches) - at)
            break
        events.append(notices.send(svc, messages, subject_id=subject_id))
        done.extend(ids)
    if done:
        log.info("outbox_delivered", count=len(done), retry=0)
        outbox.settle(svc, events, done)
    return len(done)


def _post(
    svc: Services, row: OutboxRow, hook: SecurityWebhook, events: list[DomainEvent]
) -> datetime | None:
    """Post one security webhook; its outcome joins ``events`` unless it is to
    be tried again, in which case returns when."""
    failure = webhooks.post(svc, hook)
    due = None if failure is None else webhooks.next_try(row, svc.clock.now())
    if due is not None:
        log.warning("security_webhook_retry", kind=hook.kind, due=due.isoformat())
        return due
    events.append(
        outbox.delivery_event(
            svc,
            kind=hook.kind,
            case_id=hook.case_id,
            subject_id=row.subject_id,
            recipients=1,
            failures=[] if failure is None else [failure],
            channel="webhook",
        )
    )
    return None


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
