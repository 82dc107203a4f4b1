"""Separation of duties, checked on every decision (R-32, R-33).

Rules: an approver is never the requester, the executor or the subject; one
person counts once in a quorum whatever roles they hold; nobody acts outside
their scope; the subject never requests, proofs, approves, executes, cancels,
retries or flags their own case (every operator action on a case checks
:func:`check_not_subject`).

Each refusal names the rule it applied in ``details["rule"]`` (``own_case``,
``requester``, ``executor``, ``already_approved``, ``approver_executes``,
``approver_groups``), so that a face can explain it in its own words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from custos.domain.errors import NotAuthorized, OutOfScope, SeparationOfDuties
from custos.domain.identities import Operator, Role, Subject


class _Decision(Protocol):
    @property
    def person(self) -> str: ...


class _TierRequirements(Protocol):
    @property
    def tier(self) -> str: ...
    @property
    def approver_groups(self) -> frozenset[str]: ...


class CaseFacts(Protocol):
    """What separation of duties reads of a case (``domain.model.Case`` has it);
    a protocol so that this module does not import the case model."""

    @property
    def id(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def requester_person(self) -> str | None: ...
    @property
    def on_behalf_of(self) -> str | None: ...
    @property
    def executor_person(self) -> str | None: ...
    @property
    def approvals(self) -> Iterable[_Decision]: ...
    @property
    def requirements(self) -> _TierRequirements: ...


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
        raise SeparationOfDuties(
            "an operator cannot act on their own recovery case", rule="own_case"
        )


def check_requester(operator: Operator, subject: Subject) -> None:
    check_role(operator, Role.REQUESTER)
    check_scope(operator, subject)
    check_not_subject(operator, subject)


def check_canceller(operator: Operator, subject: Subject) -> None:
    """Who may cancel a case: a requester (or admin) whose scope covers the
    subject and who is not the subject. Raises NotAuthorized, OutOfScope,
    SeparationOfDuties."""
    check_role(operator, Role.REQUESTER)
    check_scope(operator, subject)
    check_not_subject(operator, subject)


def check_subject_of(case: CaseFacts, subject: Subject) -> None:
    """The subject handed in must be the case's own: checks run against it."""
    if subject.id != case.subject_id:
        raise NotAuthorized(f"subject '{subject.id}' is not the subject of case {case.id}")


def check_approver(case: CaseFacts, operator: Operator, subject: Subject) -> None:
    check_subject_of(case, subject)
    check_role(operator, Role.APPROVER)
    check_scope(operator, subject)
    check_not_subject(operator, subject)
    if case.requester_person is not None and operator.person == case.requester_person:
        raise SeparationOfDuties(
            "the requester of a case cannot approve it (R-32)", rule="requester"
        )
    if case.on_behalf_of is not None and operator.person == case.on_behalf_of:
        raise SeparationOfDuties(
            "the owner who asked for a shared account's recovery cannot approve it (R-32)",
            rule="requester",
        )
    if case.executor_person is not None and operator.person == case.executor_person:
        raise SeparationOfDuties("the executor of a case cannot approve it (R-33)", rule="executor")
    if any(a.person == operator.person for a in case.approvals):
        raise SeparationOfDuties(
            "this person has already approved the case; one person counts once (R-33)",
            rule="already_approved",
        )
    groups = case.requirements.approver_groups
    if groups and not (groups & operator.groups):
        raise NotAuthorized(
            f"approvals for tier '{case.requirements.tier}' must come from: "
            + ", ".join(sorted(groups)),
            rule="approver_groups",
            groups=sorted(groups),
        )


def check_executor(case: CaseFacts, operator: Operator, subject: Subject) -> None:
    check_subject_of(case, subject)
    check_role(operator, Role.EXECUTOR)
    check_scope(operator, subject)
    check_not_subject(operator, subject)
    if any(a.person == operator.person for a in case.approvals):
        raise SeparationOfDuties(
            "an approver of a case cannot execute it (R-33)", rule="approver_executes"
        )
