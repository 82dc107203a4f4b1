"""The common frame of every command on an existing case: one transaction, the
case row locked, its subject loaded, expiry applied before anything else, and
holds: a case of a subject a hold stands on is blocked if it was still open
(docs/holds.md), unless that very case goes on under break-glass
(docs/exceptions.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from custos.domain import sod
from custos.domain.errors import CaseExpired, NotFound, RecoveryBlocked
from custos.domain.holds import kinds_in_words
from custos.domain.model import SYSTEM_ACTOR, Case, Operator, Subject
from custos.domain.states import TERMINAL
from custos.service.exceptions.break_glass_rules import passes_hold
from custos.service.holds.case_effects import hold_in_memory
from custos.service.oversight import refusals
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


def hidden_case(case_id: str) -> NotFound:
    """The answer to a case outside the operator's scope: word for word the one
    for a case that does not exist, so scope reveals nothing (R-36)."""
    return NotFound(f"no case '{case_id}'", case_id=case_id)


@contextmanager
def case_transaction(
    svc: Services,
    case_id: str,
    *,
    operator: Operator | None = None,
    action: str = "act",
    hold_refuses: bool = True,
) -> Iterator[CaseTxn]:
    """Yield the locked case. An expired case is moved to ``expired`` and committed,
    then CaseExpired is raised. Raises NotFound for an unknown case id.

    A case still waiting on evidence, a decision or the subject whose subject a
    hold stands on is yielded ``blocked`` (saved if the command saves it). With
    ``operator`` (a command an operator makes on the case's recovery) the
    operator's scope is checked first, before anything about the case is
    told: a case outside it answers NotFound exactly as an unknown one does.
    Then SeparationOfDuties for their own account and, with ``hold_refuses``,
    RecoveryBlocked for the case of a held subject (after committing the block).
    The one exception is a case that went on under break-glass while its
    exception is active: the hold neither blocks nor refuses it.

    Every refusal the command raises (scope, role, separation of duties,
    state, hold) is recorded as the operator's refused ``action`` (R-36,
    ``custos.service.oversight.refusals``) once its transaction rolled back."""
    if operator is None:
        with _locked(svc, case_id, operator=None, hold_refuses=hold_refuses) as txn:
            yield txn
        return
    with (
        refusals.attempt(
            svc, actor=operator.actor, action=action, case_id=case_id, hidden=hidden_case(case_id)
        ) as tried,
        _locked(svc, case_id, operator=operator, hold_refuses=hold_refuses) as txn,
    ):
        tried.subject_id = txn.subject.id
        yield txn


@contextmanager
def _locked(
    svc: Services, case_id: str, *, operator: Operator | None, hold_refuses: bool
) -> Iterator[CaseTxn]:
    now = svc.clock.now()
    with svc.uow() as uow:
        case = uow.cases.get(case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # cases reference subjects by foreign key
        if operator is not None:
            sod.check_scope(operator, subject)
        try:
            case.ensure_live(now)
        except CaseExpired:
            uow.tokens.void_live(subject.id, now=now, reason="case expired")
            uow.cases.save(case)
            uow.commit()
            raise
        glass = passes_hold(uow, case, subject, now)
        blocked = not glass and hold_in_memory(case, subject, now=now, actor=SYSTEM_ACTOR)
        if operator is not None:
            sod.check_not_subject(operator, subject)
            if hold_refuses and subject.holds and case.state not in TERMINAL and not glass:
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
