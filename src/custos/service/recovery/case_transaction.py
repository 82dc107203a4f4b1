"""The common frame of every command on an existing case: one transaction, the
case row locked, its subject loaded, expiry applied before anything else, and
holds: a case of a subject a hold stands on is blocked if it was still open
(docs/holds.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from custos.domain import sod
from custos.domain.errors import CaseExpired, RecoveryBlocked
from custos.domain.holds import kinds_in_words
from custos.domain.model import SYSTEM_ACTOR, Case, Operator, Subject
from custos.domain.states import TERMINAL
from custos.service.holds.case_effects import hold_in_memory
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


@dataclass(slots=True)
class CaseTxn:
    uow: UnitOfWork
    case: Case
    subject: Subject
    now: datetime

    def save_and_commit(self) -> None:
        self.uow.cases.save(self.case)
        self.uow.commit()


@contextmanager
def case_transaction(
    svc: Services, case_id: str, *, operator: Operator | None = None
) -> Iterator[CaseTxn]:
    """Yield the locked case. An expired case is moved to ``expired`` and committed,
    then CaseExpired is raised. Raises NotFound for an unknown case id.

    A case still waiting on evidence, a decision or the subject whose subject a
    hold stands on is yielded ``blocked`` (saved if the command saves it). With
    ``operator`` (a command an operator makes on the case's recovery) the
    operator's scope is checked first (OutOfScope; SeparationOfDuties for their
    own account), then the case of a held subject is refused: RecoveryBlocked,
    after committing the block."""
    now = svc.clock.now()
    with svc.uow() as uow:
        case = uow.cases.get(case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # cases reference subjects by foreign key
        try:
            case.ensure_live(now)
        except CaseExpired:
            uow.tokens.void_live(subject.id, now=now, reason="case expired")
            uow.cases.save(case)
            uow.commit()
            raise
        blocked = hold_in_memory(case, subject, now=now, actor=SYSTEM_ACTOR)
        if operator is not None:
            sod.check_scope(operator, subject)
            sod.check_not_subject(operator, subject)
            if subject.holds and case.state not in TERMINAL:
                if blocked:
                    uow.cases.save(case)
                    uow.commit()
                raise RecoveryBlocked(
                    f"recovery of '{subject.id}' is blocked while a hold stands "
                    f"({kinds_in_words(subject.holds)})",
                    case_id=case.id,
                    holds=sorted(subject.holds),
                )
        yield CaseTxn(uow=uow, case=case, subject=subject, now=now)
