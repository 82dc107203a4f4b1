"""The common frame of every command on an existing case: one transaction, the
case row locked, its subject loaded, expiry applied before anything else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from custos.domain.errors import CaseExpired
from custos.domain.model import Case, Subject
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
def case_transaction(svc: Services, case_id: str) -> Iterator[CaseTxn]:
    """Yield the locked case. An expired case is moved to ``expired`` and committed,
    then CaseExpired is raised. Raises NotFound for an unknown case id."""
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
        yield CaseTxn(uow=uow, case=case, subject=subject, now=now)
