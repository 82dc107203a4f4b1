"""What an approver decides on (docs/console.md#approvals): the cases waiting
for this operator, and one case's whole context with the refusal the domain
would give them, if any. Read only: decisions go through
``service.recovery.cases`` (approve, deny), which check everything again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custos.domain import sod
from custos.domain.errors import (
    AlreadyDecided,
    DomainError,
    NotAuthorized,
    OutOfScope,
    SeparationOfDuties,
)
from custos.domain.model import Case, Operator, Role, Subject
from custos.domain.states import CaseState
from custos.service.console.actors import label, operator_names
from custos.service.ports import Services
from custos.service.recovery.queries import case_detail, list_cases

#: How many cases awaiting approval the inbox reads (in scope, newest first).
LIMIT = 100


@dataclass(frozen=True, slots=True)
class InboxCase:
    """One case waiting for the approver (the fields of the console's case tables)."""

    id: str
    subject_id: str
    subject_name: str
    state: str
    tier: str
    risk_score: int
    risk_band: str
    requested_by: str
    approvals: int
    required: int
    opened_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Target:
    """A system the recovery will change: one linked account of the subject."""

    target: str
    account_id: str
    required: bool


@dataclass(frozen=True, slots=True)
class Approval:
    by: str
    at: str
    reason: str


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Everything an approver weighs, and ``refusal``: why they may not decide
    (the domain's error, not raised), None when they may."""

    detail: dict[str, Any]
    requested_by: str
    approvals: list[Approval]
    approvals_required: int
    approver_groups: list[str]
    action: str
    targets: list[Target]
    refusal: DomainError | None
    #: What the operator decided on this case, if they did: "approved" or "denied".
    decided: str | None = None

    @property
    def proofs(self) -> list[dict[str, Any]]:
        proofs: list[dict[str, Any]] = self.detail["proofs"]
        return proofs


def refusal(case: Case, operator: Operator, subject: Subject) -> DomainError | None:
    """Why ``operator`` may not approve or deny ``case`` now (what
    :meth:`Case.approve` would raise), or None when they may."""
    if case.state != CaseState.AWAITING_APPROVAL:
        return AlreadyDecided(
            f"case {case.id} is not awaiting approval (state '{case.state}')",
            state=str(case.state),
        )
    try:
        sod.check_approver(case, operator, subject)
    except (SeparationOfDuties, NotAuthorized, OutOfScope) as exc:
        return exc
    return None


def inbox(svc: Services, operator: Operator, *, limit: int = LIMIT) -> list[InboxCase]:
    """The cases awaiting approval that ``operator`` may decide: in their scope,
    not requested or executed by them, not about them, not approved by them
    already, and from their approver group where the tier names one. The one
    expiring first comes first. Raises NotAuthorized without the approver role."""
    sod.check_role(operator, Role.APPROVER)
    rows = list_cases(svc, operator, state=CaseState.AWAITING_APPROVAL, limit=limit)
    waiting = []
    with svc.uow() as uow:
        names = operator_names(uow)
        for row in rows:
            case = uow.cases.get(row["id"])
            subject = uow.subjects.get(case.subject_id)
            if subject is None or refusal(case, operator, subject) is not None:
                continue
            waiting.append(
                InboxCase(
                    id=case.id,
                    subject_id=subject.id,
                    subject_name=subject.display_name,
                    state=str(case.state),
                    tier=case.requirements.tier,
                    risk_score=case.risk.score,
                    risk_band=case.risk.band,
                    requested_by=label(
                        case.requested_by,
                        names,
                        subject_id=subject.id,
                        subject_name=subject.display_name,
                    ),
                    approvals=len({a.person for a in case.approvals}),
                    required=case.requirements.approvals,
                    opened_at=case.opened_at,
                    expires_at=case.expires_at,
                )
            )
    return sorted(waiting, key=lambda c: c.expires_at)


def decision_context(svc: Services, operator: Operator, case_id: str) -> DecisionContext:
    """The case as an approver sees it. Raises NotAuthorized without the approver
    role, NotFound for an unknown case or one outside the operator's scope."""
    sod.check_role(operator, Role.APPROVER)
    detail = case_detail(svc, operator, case_id)
    with svc.uow() as uow:
        case = uow.cases.get(case_id)
        subject = uow.subjects.get(case.subject_id)
        names = operator_names(uow)
    assert subject is not None
    required = case.requirements.required_targets
    subject_label = {"subject_id": subject.id, "subject_name": subject.display_name}
    for proof in detail["proofs"]:
        proof["by"] = label(proof["actor"], names, **subject_label)
    return DecisionContext(
        detail=detail,
        requested_by=label(case.requested_by, names, **subject_label),
        approvals=[
            Approval(
                by=label(f"operator:{a.operator_id}", names),
                at=a.decided_at.isoformat(),
                reason=a.reason,
            )
            for a in case.approvals
        ],
        approvals_required=case.requirements.approvals,
        approver_groups=sorted(case.requirements.approver_groups),
        action=str(case.requirements.action),
        targets=[
            Target(a.target, a.account_id, required is None or a.target in required)
            for a in subject.accounts
        ],
        refusal=refusal(case, operator, subject),
        decided=_decided(case, operator, detail),
    )


def _decided(case: Case, operator: Operator, detail: dict[str, Any]) -> str | None:
    if any(a.operator_id == operator.id for a in case.approvals):
        return "approved"
    denials = [
        e
        for e in detail["timeline"]
        if e["type"] == "case:case:state_changed" and e["data"].get("to") == "denied"
    ]
    if denials and denials[-1]["actor"] == operator.actor:
        return "denied"
    return None
