"""R-5 in the case flow: when a recovery's one-time token is redeemed, the
proofs of the case have met the AAL its tier names, and that fresh proof resets
the subject's locked authenticators at or below that level; those above stay
locked, and the case says why. Each decision is a ledger event on the case, in
the redemption's transaction (domain/authenticator_locks.py). A reissue clears
the locks of the authenticators it removed first (``clear_removed``)."""

from __future__ import annotations

from datetime import datetime

from custos.domain import authenticator_locks
from custos.domain.enrolment import AuthenticatorKind
from custos.domain.events import EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case, subject_actor
from custos.proofing.base import METHODS
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork


def reset_after_recovery(uow: UnitOfWork, *, case: Case, now: datetime) -> None:
    """Reset what this case's proof allows; record every decision on the case."""
    who = throttles.subject_who(case.subject_id)
    locked = throttles.locked_methods(uow, who=who, methods=METHODS)
    if not locked:
        return
    req = case.requirements
    actor = subject_actor(case.subject_id)
    for decision in authenticator_locks.decide(locked, tier=req.tier, tier_aal=req.aal):
        if decision.reset:
            throttles.lift_lock(uow, who=who, method=decision.method)
        case.emit(
            EventType.AUTHENTICATOR_LOCK_RESET
            if decision.reset
            else EventType.AUTHENTICATOR_LOCK_KEPT,
            at=now,
            actor=actor,
            outcome=Outcome.SUCCESS if decision.reset else Outcome.DENIED,
            reason=decision.reason,
            data={
                "method": decision.method,
                "authenticator_aal": int(decision.authenticator_aal),
                "tier_aal": req.aal,
            },
        )


def clear_removed(
    uow: UnitOfWork, *, case: Case, removed: set[AuthenticatorKind], now: datetime
) -> None:
    """A reissue removed the ``removed`` kinds of authenticator: clear the locks
    of their methods, each a ``AUTHENTICATOR_LOCK_RESET`` event on the case."""
    who = throttles.subject_who(case.subject_id)
    locked = throttles.locked_methods(uow, who=who, methods=METHODS)
    for decision in authenticator_locks.cleared_by_removal(locked, removed):
        throttles.lift_lock(uow, who=who, method=decision.method)
        case.emit(
            EventType.AUTHENTICATOR_LOCK_RESET,
            at=now,
            actor=SYSTEM_ACTOR,
            reason=decision.reason,
            data={
                "method": decision.method,
                "authenticator_aal": int(decision.authenticator_aal),
                "tier_aal": case.requirements.aal,
                "removed_by_reissue": True,
            },
        )
