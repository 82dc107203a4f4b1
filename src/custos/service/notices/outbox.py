"""Durable delivery of messages (R-22): a notice is written, sealed, in the same
transaction as the change it reports, and deleted in the transaction that
records its delivery in the ledger. It is written leased to its own process
for ``LEASE``, which sends it right after the commit. So a process that dies
after its commit but before (or while) sending loses no notice: once the lease
ran out, the worker's sweep (``outbox_sweep``) leases, sends and records it.
Delivery is at least once: a crash after sending but before recording, or a
delivery slower than its lease, sends that message again.

The rows are sealed with the sealing key (they may hold a one-time code or a
repudiation link) and bound to their own id; nothing of them is logged.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any, Final, Literal

import structlog

from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR
from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.service.ports import Services
from custos.store.outbox_repository import OutboxRow
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.notify")

Channel = Literal["email", "sms"]

#: How long a delivery holds its rows before the sweep may take them: also how
#: late a notice is when its process died after the commit.
LEASE: Final = timedelta(minutes=5)


def _aad(row_id: str) -> str:
    return f"outbox:{row_id}"


def hold(
    svc: Services,
    uow: UnitOfWork,
    channel: Channel,
    messages: Sequence[Message | SmsMessage],
    *,
    subject_id: str | None,
) -> list[str]:
    """Write ``messages`` to the outbox in ``uow``'s transaction, leased to this
    process for ``LEASE``; their row ids, in order."""
    now = svc.clock.now()
    rows = []
    for message in messages:
        row_id = str(uuid.uuid4())
        plain = json.dumps(asdict(message), separators=(",", ":"))
        rows.append(
            OutboxRow(row_id, channel, subject_id, svc.sealer.seal(plain, aad=_aad(row_id)), now)
        )
    uow.outbox.add_many(rows, leased_until=now + LEASE)
    return [r.id for r in rows]


def opened(svc: Services, row: OutboxRow) -> Message | SmsMessage:
    """The message a row holds. Raises SealError when it does not unseal."""
    fields: dict[str, Any] = json.loads(svc.sealer.unseal(row.sealed, aad=_aad(row.id)))
    return SmsMessage(**fields) if row.channel == "sms" else Message(**fields)


def delivery_event(
    svc: Services,
    *,
    kind: str,
    case_id: str | None,
    subject_id: str | None,
    recipients: int,
    failures: list[str],
) -> DomainEvent:
    """The ledger event that says how one batch (one kind, one case) went:
    ``notify:subject:sent`` or ``failed`` with the first failure as reason."""
    return DomainEvent(
        type=EventType.NOTIFICATION_FAILED if failures else EventType.NOTIFICATION_SENT,
        occurred_at=svc.clock.now(),
        actor=SYSTEM_ACTOR,
        subject_id=subject_id,
        case_id=case_id,
        outcome=Outcome.FAILURE if failures else Outcome.SUCCESS,
        reason=failures[0] if failures else "",
        data={"kind": kind, "recipients": recipients, "delivered": recipients - len(failures)},
    )


def settle(svc: Services, events: list[DomainEvent], done: Iterable[str]) -> None:
    """Record how the deliveries went and drop their rows, in one transaction.
    Never raises: should it fail, the rows come back to the sweep once their
    lease ran out (and are sent again: at least once)."""
    try:
        with svc.uow() as uow:
            uow.ledger.append(events)
            uow.outbox.delete_many(done)
            uow.commit()
    except Exception as exc:  # the messages went (or not) already
        log.error(
            "notification_not_recorded",
            kinds=sorted({str(e.data.get("kind")) for e in events}),
            error=type(exc).__name__,
        )
