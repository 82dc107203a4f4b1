"""R-5 in the case flow: when a recovery's one-time token is redeemed, the
proofs of the case have met the AAL its tier names, and that fresh proof resets
the subject's locked authenticators at or below that level; those above stay
locked, and the case says why. Each decision is a ledger event on the case, in
the redemption's transaction (domain/authenticator_locks.py)."""

from __future__ import annotations

from datetime import datetime

from custos.domain import authenticator_locks
from custos.domain.events import EventType, Outcome
from custos.domain.model import Case, subject_actor
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
