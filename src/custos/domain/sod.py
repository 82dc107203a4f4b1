"""Separation of duties, checked on every decision (R-32, R-33).

Rules: an approver is never the requester, the executor or the subject; one
person counts once in a quorum whatever roles they hold; nobody acts outside
their scope; the subject never approves or executes their own case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custos.domain.errors import NotAuthorized, OutOfScope, SeparationOfDuties

if TYPE_CHECKING:
    from custos.domain.model import Case, Operator, Role, Subject


def check_role(operator: Operator, role: Role) -> None:
    if not operator.has_role(role):
        raise NotAuthorized(f"operator '{operator.name}' lacks the '{role}' role", role=str(role))


def check_scope(operator: Operator, subject: Subject) -> None:
    if not operator.covers(subject):
        raise OutOfScope(
            f"subject '{subject.id}' is outside the scope of operator '{operator.name}'",
            subject=subject.id,
        )


def check_not_subject(operator: Operator, subject: Subject) -> None:
    if operator.person == subject.id:
        raise SeparationOfDuties("an operator cannot act on their own recovery case")


def check_requester(operator: Operator, subject: Subject) -> None:
    from custos.domain.model import Role

    check_role(operator, Role.REQUESTER)
    check_scope(operator, subject)
    check_not_subject(operator, subject)


def check_subject_of(case: Case, subject: Subject) -> None:
    """The subject handed in must be the case's own: checks run against it."""
    if subject.id != case.subject_id:
        raise NotAuthorized(f"subject '{subject.id}' is not the subject of case {case.id}")


def check_approver(case: Case, operator: Operator, subject: Subject) -> None:
    from custos.domain.model import Role

    check_subject_of(case, subject)
    check_role(operator, Role.APPROVER)
    check_scope(operator, subject)
    check_not_subject(operator, subject)
    if case.requester_person is not None and operator.person == case.requester_person:
        raise SeparationOfDuties("the requester of a case cannot approve it (R-32)")
    if case.executor_person is not None and operator.person == case.executor_person:
        raise SeparationOfDuties("the executor of a case cannot approve it (R-33)")
    if any(a.person == operator.person for a in case.approvals):
        raise SeparationOfDuties(
            "this person has already approved the case; one person counts once (R-33)"
        )
    groups = case.requirements.approver_groups
    if groups and not (groups & operator.groups):
        raise NotAuthorized(
            f"approvals for tier '{case.requirements.tier}' must come from: "
            + ", ".join(sorted(groups))
        )


def check_executor(case: Case, operator: Operator, subject: Subject) -> None:
    from custos.domain.model import Role

    check_subject_of(case, subject)
    check_role(operator, Role.EXECUTOR)
    check_scope(operator, subject)
    check_not_subject(operator, subject)
    if any(a.person == operator.person for a in case.approvals):
        raise SeparationOfDuties("an approver of a case cannot execute it (R-33)")
