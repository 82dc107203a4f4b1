"""What every self-management command checks first: a live, complete subject
session, re-authenticated within five minutes (R-27), at the assurance level
binding needs (R-28); and how such commands record and announce what changed."""

from __future__ import annotations

from datetime import datetime

from custos.domain.enrolment import AuthenticatorKind, binding_aal
from custos.domain.errors import ReauthenticationRequired
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import ContactKind, Subject, subject_actor
from custos.notify import enrolment_messages
from custos.service.enrolment.subject_sessions import SessionContext
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


def require_fresh(ctx: SessionContext, now: datetime) -> None:
    """Raise ReauthenticationRequired unless the session re-authenticated fully
    in the last five minutes (R-27)."""
    if not ctx.session.fresh(now):
        raise ReauthenticationRequired(
            "re-authenticate (password and second factor) to change recovery or sign-in methods"
        )


def require_binding_level(
    uow: UnitOfWork, ctx: SessionContext, kind: AuthenticatorKind, now: datetime
) -> None:
    """R-27 and R-28: fresh, and at the lower of the account's highest AAL and the
    new authenticator's AAL."""
    require_fresh(ctx, now)
    needed = binding_aal(uow.authenticators.active(ctx.subject.id), kind)
    if ctx.session.aal < needed:
        raise ReauthenticationRequired(
            f"binding this method needs a sign-in at AAL{int(needed)}: "
            "re-authenticate with your strongest factor",
            required_aal=int(needed),
            session_aal=int(ctx.session.aal),
        )


def record(
    uow: UnitOfWork,
    type_: EventType,
    subject_id: str,
    now: datetime,
    *,
    data: dict[str, object] | None = None,
    reason: str = "",
    outcome: Outcome = Outcome.SUCCESS,
) -> None:
    """Append a subject-level ledger event (no case) in the caller's transaction."""
    uow.ledger.append(
        [
            DomainEvent(
                type=type_,
                occurred_at=now,
                actor=subject_actor(subject_id),
                subject_id=subject_id,
                case_id=None,
                outcome=outcome,
                reason=reason,
                data=data or {},
            )
        ]
    )


def announce_binding(
    svc: Services, uow: UnitOfWork, subject: Subject, *, method: str, label: str, now: datetime
) -> int:
    """Tell every confirmed email contact that an authenticator was bound (R-22:
    through a channel other than the new authenticator). Returns recipients."""
    contacts = subject.confirmed_contacts(ContactKind.EMAIL)
    batch = [
        enrolment_messages.authenticator_bound(
            to=c.address, display_name=subject.display_name, method=method, label=label, at=now
        )
        for c in contacts
    ]
    notices.queue(svc, uow, batch, subject_id=subject.id)
    return len(batch)
