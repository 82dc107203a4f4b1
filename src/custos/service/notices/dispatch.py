"""Queuing messages with the change they report, and the recovery notices that
go to every confirmed contact with a repudiation link (R-22, R-23).

Delivery contract: a message is written, sealed, to the notice outbox in the
transaction of the change it reports, and only the worker sends it, after the
commit and never for a rolled-back change: its sweep
(``service/notices/outbox_sweep.py``), or, for the recovery notices of the cases
it completes itself (``hold_recoveries``), the worker right after its commit.
A request never talks to the mail relay itself, so it does the same work for a
known and an unknown account, however slow the relay is (R-19).
Delivery never raises: a failure is logged (kind and case, never the body or a
secret, R-37) and recorded in the ledger as ``notify:subject:failed``; a
success as ``notify:subject:sent``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import structlog

from custos.credentials.tokens import issue_token
from custos.domain.events import DomainEvent
from custos.domain.model import Case, ContactKind, Subject
from custos.notify import batch_messages, messages
from custos.notify.base import Message, NotificationFailed
from custos.service.notices import outbox
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.notify")

REPUDIATION_PREFIX: Final = "crp"
REPUDIATION_TTL: Final = timedelta(days=7)


def queue(
    svc: Services, uow: UnitOfWork, batch: Sequence[Message], *, subject_id: str | None
) -> None:
    """Write ``batch`` to the outbox in ``uow``'s transaction (sealed); the
    worker's next sweep sends it once ``uow`` committed (see the module
    contract)."""
    if batch:
        outbox.hold(svc, uow, "email", batch, subject_id=subject_id)


def send(svc: Services, batch: Sequence[Message], *, subject_id: str | None) -> DomainEvent:
    """Send the messages of one batch; the ledger event that says how it went."""
    failures: list[str] = []
    for message in batch:
        try:
            svc.notifier.send(message)
        except NotificationFailed as exc:
            failures.append(str(exc))
            log.warning(
                "notification_failed", kind=message.kind, case=message.case_id, error=str(exc)
            )
        except Exception as exc:  # a notifier's own bug: recorded by type, never its text
            failures.append(f"the notifier failed unexpectedly ({type(exc).__name__})")
            log.error(
                "notification_failed",
                kind=message.kind,
                case=message.case_id,
                error=type(exc).__name__,
            )
    return outbox.delivery_event(
        svc,
        kind=batch[0].kind,
        case_id=batch[0].case_id,
        subject_id=subject_id,
        recipients=len(batch),
        failures=failures,
    )


def repudiation_link(svc: Services, uow: UnitOfWork, *, case_id: str, now: datetime) -> str:
    """Issue a one-time "this wasn't me" token for the case (stored hashed, valid
    7 days) and return its link, built from the configured origin (R-17)."""
    token = issue_token(REPUDIATION_PREFIX)
    uow.repudiations.add(
        case_id=case_id, digest=token.digest, now=now, expires_at=now + REPUDIATION_TTL
    )
    return _repudiation_url(svc, token.plain)


def _repudiation_url(svc: Services, plain: str) -> str:
    return f"{svc.settings.public_origin}/repudiate#token={plain}"


def notify_recovery(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, event: str, now: datetime
) -> int:
    """Queue a recovery notice to every confirmed email contact of ``subject``
    (R-22): what happened (``credential_issued`` or ``completed``), when, through
    which channel, and a repudiation link. Returns the number of recipients."""
    return notify_recoveries(svc, uow, [(case, subject)], event=event, now=now)


def notify_recoveries(
    svc: Services,
    uow: UnitOfWork,
    done: Sequence[tuple[Case, Subject]],
    *,
    event: str,
    now: datetime,
) -> int:
    """``notify_recovery`` for many cases at once: the repudiation token of
    every case (R-17) stored in one statement, the notices in one more.
    Returns the number of recipients."""
    held = _recovery_notices(svc, uow, done, event=event, now=now)
    outbox.hold_many(svc, uow, "email", held)  # one statement for the whole batch
    return sum(len(batch) for batch, _ in held)


def hold_recoveries(
    svc: Services,
    uow: UnitOfWork,
    done: Sequence[tuple[Case, Subject]],
    *,
    event: str,
    now: datetime,
) -> outbox.Handover:
    """:func:`notify_recoveries` for the worker, which sends the notices itself
    once ``uow`` committed (``outbox_sweep.deliver_handover``): the rows are
    written sealed as any other, but leased to this worker (``outbox.hold_leased``),
    so no sweep sends them meanwhile, and the sweep sends them once the lease
    ran out should the worker die before (R-22, at least once)."""
    held = _recovery_notices(svc, uow, done, event=event, now=now)
    return outbox.hold_leased(svc, uow, held)


def _recovery_notices(
    svc: Services,
    uow: UnitOfWork,
    done: Sequence[tuple[Case, Subject]],
    *,
    event: str,
    now: datetime,
) -> list[tuple[Sequence[Message], str | None]]:
    """The recovery notices of these cases (messages, subject id), one batch
    per case with a confirmed email contact, rendered once for them all; their
    repudiation tokens stored in one statement."""
    tokens: list[tuple[str, str]] = []
    held: list[tuple[Sequence[Message], str | None]] = []
    notices: batch_messages.RecoveryNotices | None = None
    for case, subject in done:
        contacts = subject.confirmed_contacts(ContactKind.EMAIL)
        if not contacts:
            continue
        if notices is None:  # rendered once for the batch, only if it has a recipient
            notices = batch_messages.RecoveryNotices(
                event=event, at=now, expires_days=REPUDIATION_TTL.days
            )
        token = issue_token(REPUDIATION_PREFIX)
        tokens.append((case.id, token.digest))
        batch = notices.messages(
            to=[contact.address for contact in contacts],
            case_id=case.id,
            display_name=subject.display_name,
            channel=str(case.channel),
            repudiation_link=_repudiation_url(svc, token.plain),
        )
        held.append((batch, subject.id))
    uow.repudiations.add_many(tokens, now=now, expires_at=now + REPUDIATION_TTL)
    return held


def notify_recovery_code_used(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, remaining: int, now: datetime
) -> None:
    """Tell every confirmed email contact that a saved recovery code was used
    (R-12, R-23), with a repudiation link. The replacement code is never sent."""
    contacts = subject.confirmed_contacts(ContactKind.EMAIL)
    if not contacts:
        return
    link = repudiation_link(svc, uow, case_id=case.id, now=now)
    batch = [
        messages.recovery_code_used(
            to=contact.address,
            case_id=case.id,
            display_name=subject.display_name,
            at=now,
            remaining=remaining,
            repudiation_link=link,
            expires_days=REPUDIATION_TTL.days,
        )
        for contact in contacts
    ]
    queue(svc, uow, batch, subject_id=subject.id)
