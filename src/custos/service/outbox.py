"""Durable delivery of messages (R-22): a notice is written, sealed, in the same
transaction as the change it reports, and deleted in the transaction that
records its delivery in the ledger. In between, whoever delivers it holds a
lease on it. So a process that dies after its commit but before (or while)
sending loses no notice: the worker's sweep (``outbox_sweep``) sends what is
left once it is older than ``STRANDED_AFTER``. Delivery is at least once: a
crash after sending but before recording sends that message again.

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

from custos.bootstrap import Services
from custos.domain.events import DomainEvent
from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.store.outbox_repository import OutboxRow
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.notify")

Channel = Literal["email", "sms"]

#: How long one delivery may hold its rows before another process may take them.
LEASE: Final = timedelta(minutes=5)
#: Rows older than this that nobody holds were left by a process that died.
STRANDED_AFTER: Final = timedelta(seconds=60)


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
    """Write ``messages`` to the outbox in ``uow``'s transaction; their row ids,
    in order."""
    now = svc.clock.now()
    rows = []
    for message in messages:
        row_id = str(uuid.uuid4())
        plain = json.dumps(asdict(message), separators=(",", ":"))
        rows.append(
            OutboxRow(row_id, channel, subject_id, svc.sealer.seal(plain, aad=_aad(row_id)), now)
        )
    uow.outbox.add_many(rows)
    return [r.id for r in rows]


def opened(svc: Services, row: OutboxRow) -> Message | SmsMessage:
    """The message a row holds. Raises SealError when it does not unseal."""
    fields: dict[str, Any] = json.loads(svc.sealer.unseal(row.sealed, aad=_aad(row.id)))
    return SmsMessage(**fields) if row.channel == "sms" else Message(**fields)


def take(svc: Services, ids: Iterable[str]) -> set[str] | None:
    """Lease the rows ``ids`` (those nobody else took meanwhile) for delivery;
    None when the database cannot be reached (the sweep delivers them later)."""
    wanted = list(ids)
    if not wanted:
        return set()
    now = svc.clock.now()
    try:
        with svc.uow() as uow:
            claimed = uow.outbox.claim(wanted, now=now, until=now + LEASE)
            uow.commit()
    except Exception as exc:  # after a commit: never fail the caller
        log.error("outbox_not_claimed", error=type(exc).__name__)
        return None
    return claimed


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
