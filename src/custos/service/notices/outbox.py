"""Durable delivery of messages (R-22): a notice is written, sealed, in the same
transaction as the change it reports, and deleted in the transaction that
records its delivery in the ledger. Requests never send anything themselves:
only the worker's sweep (``outbox_sweep``, every pass) does, so a request does
the same work whoever it is about, however slow the mail relay or SMS gateway
is (R-19). The worker's own recovery notices are written already leased to it
(``hold_leased``) and sent by it once their transaction committed
(``outbox_sweep.deliver_handover``); should it die first, the sweep sends them
once that lease ran out. The sweep leases the rows it takes for ``LEASE``
before sending them; a sweep that dies after taking them loses none: once the lease ran out,
the next sweep takes them again. Delivery is at least once: a crash after
sending but before recording, or a delivery slower than its lease, sends that
message again. Mail and texts are tried once (their outcome is recorded either
way); the signed security webhook (channel ``webhook``, ``webhooks``) is put
back for a later sweep when its post failed, until it is given up.

The rows are sealed with the sealing key (they may hold a one-time code or a
repudiation link) and bound to their own id; nothing of them is logged. Row ids
sort in the order the rows were written, so the sweep sends in that order.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import structlog

from custos.credentials import seal_contexts
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR
from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.notify.webhook import SecurityWebhook
from custos.service.ports import Services
from custos.store.outbox_repository import OutboxRow
from custos.store.unit_of_work import UnitOfWork
from custos.uuid_text import uuid_text

log = structlog.get_logger("custos.notify")

Channel = Literal["email", "sms", "webhook"]
#: What a row holds: a mail, a text or a security webhook.
Held = Message | SmsMessage | SecurityWebhook

#: How long a sweep holds the rows it took before another sweep may take them:
#: also how late a notice is when the sweep that took it died.
LEASE: Final = timedelta(minutes=5)

#: ``json.dumps(..., separators=(",", ":"))``, built once (``dumps`` with an
#: argument builds a new encoder on every call).
_JSON: Final = json.JSONEncoder(separators=(",", ":"))
#: The fields of the messages with flat fields (strings, None, a dict of strings).
_FLAT: Final[dict[type, tuple[str, ...]]] = {
    kind: tuple(f.name for f in fields(kind)) for kind in (Message, SmsMessage)
}

_last_stamp = 0
_stamp_lock = threading.Lock()


def _row_id() -> str:
    """A UUID-shaped id whose first half is a nanosecond stamp, strictly growing
    in this process, and whose second half is random: ids sort in the order the
    rows were written, even when the clock gives every row the same time."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(_last_stamp + 1, time.time_ns())
        stamp = _last_stamp
    return uuid_text(f"{(stamp << 64) | secrets.randbits(64):032x}")


def hold(
    svc: Services,
    uow: UnitOfWork,
    channel: Channel,
    messages: Sequence[Held],
    *,
    subject_id: str | None,
) -> list[str]:
    """Write ``messages`` to the outbox in ``uow``'s transaction, due at once:
    the worker's next sweep sends them (after the commit; never if it rolled
    back). Returns their row ids, in order."""
    return hold_many(svc, uow, channel, [(messages, subject_id)])


def hold_many(
    svc: Services,
    uow: UnitOfWork,
    channel: Channel,
    batches: Sequence[tuple[Sequence[Held], str | None]],
    *,
    leased_until: datetime | None = None,
) -> list[str]:
    """:func:`hold` for several batches (messages, subject id) in one statement
    (the worker's recovery notices: one insert per recorded batch of cases, not
    one per case). Each message is still its own sealed row. Returns the row
    ids, in order. With ``leased_until`` the rows are written already leased
    until then (:func:`hold_leased`): no sweep takes them before."""
    now = svc.clock.now()
    rows = []
    for messages, subject_id in batches:
        for message in messages:
            row_id = _row_id()
            plain = _plain(message)
            rows.append(
                OutboxRow(
                    row_id,
                    channel,
                    subject_id,
                    svc.sealer.seal(plain, aad=seal_contexts.notice(row_id)),
                    now,
                )
            )
    if rows:
        uow.outbox.add_many(rows, due_at=now if leased_until is None else leased_until)
    return [r.id for r in rows]


@dataclass(frozen=True, slots=True)
class Handover:
    """Mail written to the outbox by :func:`hold_leased`, already leased to the
    process that wrote it, with the plain messages it still holds: that process
    sends them itself once its transaction committed
    (``outbox_sweep.deliver_handover``), without claiming or unsealing the rows.
    Should it die (or fail) first, nothing is lost: the rows are due to the
    sweep once the lease ran out (at least once)."""

    #: (row ids, messages, subject id) per batch, in the order written.
    batches: Sequence[tuple[Sequence[str], Sequence[Message], str | None]]
    leased_until: datetime

    @property
    def recipients(self) -> int:
        return sum(len(messages) for _, messages, _ in self.batches)


def hold_leased(
    svc: Services, uow: UnitOfWork, batches: Sequence[tuple[Sequence[Message], str | None]]
) -> Handover:
    """:func:`hold_many` for mail its caller sends itself right after ``uow``
    commits (never inside it): the rows are sealed at rest as any other, but
    leased for :data:`LEASE` from now, so that no sweep (of this worker or
    another) sends them meanwhile. Returns what to hand to
    ``outbox_sweep.deliver_handover`` once ``uow`` committed; if it rolled
    back, the handover is dropped unsent (there are no rows)."""
    until = svc.clock.now() + LEASE
    ids = iter(hold_many(svc, uow, "email", batches, leased_until=until))
    return Handover(
        [([next(ids) for _ in messages], messages, subject_id) for messages, subject_id in batches],
        until,
    )


def _plain(message: Held) -> str:
    """What a row seals: ``json.dumps(asdict(message), separators=(",", ":"))``.
    A mail or a text has flat fields, so its JSON is written from them as they
    are (``asdict`` would copy each first: as long again as the encoding); a
    webhook's payload may nest, so it still goes through ``asdict``."""
    names = _FLAT.get(type(message))
    if names is None:
        return _JSON.encode(asdict(message))
    return _JSON.encode({name: getattr(message, name) for name in names})


def opened(svc: Services, row: OutboxRow) -> Held:
    """The message a row holds. Raises SealError when it does not unseal."""
    fields: dict[str, Any] = json.loads(
        svc.sealer.unseal(row.sealed, aad=seal_contexts.notice(row.id))
    )
    if row.channel == "webhook":
        return SecurityWebhook(**fields)
    return SmsMessage(**fields) if row.channel == "sms" else Message(**fields)


def delivery_event(
    svc: Services,
    *,
    kind: str,
    case_id: str | None,
    subject_id: str | None,
    recipients: int,
    failures: list[str],
    channel: Channel | None = None,
) -> DomainEvent:
    """The ledger event that says how one batch (one kind, one case) went:
    ``notify:subject:sent`` or ``failed`` with the first failure as reason
    (``channel`` in its data when given: the security webhook's)."""
    data: dict[str, object] = {
        "kind": kind,
        "recipients": recipients,
        "delivered": recipients - len(failures),
    }
    if channel is not None:
        data["channel"] = channel
    return DomainEvent(
        type=EventType.NOTIFICATION_FAILED if failures else EventType.NOTIFICATION_SENT,
        occurred_at=svc.clock.now(),
        actor=SYSTEM_ACTOR,
        subject_id=subject_id,
        case_id=case_id,
        outcome=Outcome.FAILURE if failures else Outcome.SUCCESS,
        reason=failures[0] if failures else "",
        data=data,
    )


def settle(
    svc: Services,
    events: list[DomainEvent],
    done: Iterable[str],
    *,
    later: Sequence[tuple[str, datetime]] = (),
    leased_until: datetime | None = None,
) -> None:
    """Record how the deliveries went and drop their rows, in one transaction;
    the rows in ``later`` (id, when) are put back for a later sweep, if this
    sweep still holds them (its lease ran until ``leased_until``). Never
    raises: should it fail, the rows come back to the sweep once their lease
    ran out (and are sent again: at least once)."""
    try:
        with svc.uow() as uow:
            uow.ledger.append(events)
            uow.outbox.delete_many(done)
            if later and leased_until is not None:
                uow.outbox.put_back(later, leased_until=leased_until)
            uow.commit()
    except Exception as exc:  # the messages went (or not) already
        log.error(
            "notification_not_recorded",
            kinds=sorted({str(e.data.get("kind")) for e in events}),
            error=type(exc).__name__,
        )
