"""Which holds stand on a subject now: the question every other use case asks
(opening a case, break-glass, the subject's page), and the policy's rules."""

from __future__ import annotations

from datetime import datetime

from custos.domain.errors import NotFound
from custos.domain.holds import HoldRecord, HoldRules
from custos.domain.model import Subject
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


def hold_rules(svc: Services) -> HoldRules:
    """The active policy's hold kinds and who sets and lifts holds."""
    return svc.policy.document.holds.rules()


def active_holds(uow: UnitOfWork, subject: Subject, now: datetime) -> list[HoldRecord]:
    """The holds standing on ``subject`` or on one of its groups at ``now``
    (neither lifted nor past their end time), oldest first. Empty: nothing
    holds the subject back."""
    return uow.holds.standing_on(subject.id, subject.groups, now)


def active_holds_of(svc: Services, subject_id: str) -> list[HoldRecord]:
    """:func:`active_holds` in a read-only unit of its own, at the clock's now.
    Raises NotFound for an unknown subject."""
    with svc.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None:
            raise NotFound(f"no subject '{subject_id}'", subject_id=subject_id)
        return active_holds(uow, subject, svc.clock.now())
