"""Cases using exceptions: when a case reaches proofing at its opening, every
active exception covering its subject (by id, group or tier) relaxes its frozen
requirements through the domain's ``use_exception``, and the case records each
one it used (``governance:exception:used``, in its timeline). Pending, expired,
revoked and break-glass exceptions are not used here."""

from __future__ import annotations

from datetime import datetime

from custos.domain.exceptions import ExceptionStatus, Relaxation, use_exception
from custos.domain.model import SYSTEM_ACTOR, Case, Subject
from custos.store.unit_of_work import UnitOfWork


def apply_exceptions(uow: UnitOfWork, case: Case, subject: Subject, now: datetime) -> list[str]:
    """Relax ``case`` by the active exceptions covering ``subject``; returns
    their ids."""
    used: list[str] = []
    for record in uow.exceptions.live(now):
        if record.relaxation == Relaxation.BREAK_GLASS:
            continue
        if record.status(now) != ExceptionStatus.ACTIVE:
            continue
        if not record.covers(subject.id, subject.groups, case.requirements.tier):
            continue
        use_exception(case, record, groups=subject.groups, now=now, actor=SYSTEM_ACTOR)
        used.append(record.id)
    return used
