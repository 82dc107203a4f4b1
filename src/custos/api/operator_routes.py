"""Operator endpoints: help-desk cases, proofing, decisions, execution."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from custos.api.auth import OperatorDep, ServicesDep, client_address
from custos.api.schemas import (
    BreakGlassIn,
    CaseSummary,
    Decision,
    OpenCase,
    ProofIn,
    ProofOut,
    RetryIn,
)
from custos.domain.errors import InvalidInput
from custos.domain.model import Case
from custos.domain.states import CaseState
from custos.service.recovery import cases, queries

router = APIRouter(prefix="/api/v1", tags=["operators"])


def _summary(case: Case, message: str | None = None) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        state=str(case.state),
        tier=case.requirements.tier,
        subject=case.subject_id,
        message=message,
    )


@router.get("/me")
def me(operator: OperatorDep) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": operator.name,
        "roles": sorted(operator.roles),
        "scope": sorted(operator.scope),
        "groups": sorted(operator.groups),
    }


@router.post("/cases", status_code=201, response_model=CaseSummary)
def open_case(
    body: OpenCase, request: Request, svc: ServicesDep, operator: OperatorDep
) -> CaseSummary:
    case = cases.open_helpdesk_case(
        svc,
        operator,
        subject_id=body.subject,
        reason=body.reason,
        channel=body.channel,
        source_address=client_address(request),
        on_behalf_of=body.on_behalf_of,
    )
    return _summary(case, "case opened; collect proofing evidence next")


@router.get("/cases")
def list_cases(
    svc: ServicesDep,
    operator: OperatorDep,
    state: str | None = None,
    subject: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    try:
        wanted = CaseState(state) if state else None
    except ValueError:
        raise InvalidInput(f"unknown state '{state}'", known=[str(s) for s in CaseState]) from None
    rows = queries.list_cases(svc, operator, state=wanted, subject_id=subject, limit=limit)
    return {
        "cases": [
            {
                **r,
                "opened_at": r["opened_at"].isoformat(),
                "updated_at": r["updated_at"].isoformat(),
            }
            for r in rows
        ]
    }


@router.get("/cases/{case_id}")
def show_case(case_id: str, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    return queries.case_detail(svc, operator, case_id)


@router.post("/cases/{case_id}/proofs", response_model=ProofOut)
def add_proof(case_id: str, body: ProofIn, svc: ServicesDep, operator: OperatorDep) -> ProofOut:
    result = cases.add_proof(svc, operator, case_id, method=body.method, response=body.code)
    return ProofOut(case=result.case_id, state=str(result.state), passed=result.passed)


@router.post("/cases/{case_id}/email-code", status_code=202)
def send_email_code(case_id: str, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    sent = cases.send_email_code(svc, operator, case_id)
    return {
        "sent": sent,
        "message": "a code went to the subject's confirmed email contacts"
        if sent
        else "the subject has no confirmed email contact or the tier forbids it",
    }


@router.post("/cases/{case_id}/approve", response_model=CaseSummary)
def approve(case_id: str, body: Decision, svc: ServicesDep, operator: OperatorDep) -> CaseSummary:
    case = cases.approve(svc, operator, case_id, reason=body.reason)
    got, need = len({a.person for a in case.approvals}), case.requirements.approvals
    return _summary(case, f"{got} of {need} approvals")


@router.post("/cases/{case_id}/deny", response_model=CaseSummary)
def deny(case_id: str, body: Decision, svc: ServicesDep, operator: OperatorDep) -> CaseSummary:
    return _summary(cases.deny(svc, operator, case_id, reason=body.reason))


@router.post("/cases/{case_id}/execute", response_model=CaseSummary)
def execute(case_id: str, svc: ServicesDep, operator: OperatorDep) -> CaseSummary:
    case = cases.execute(svc, operator, case_id)
    return _summary(case, "a one-time link went to the subject's confirmed contacts")


@router.post("/cases/{case_id}/cancel", response_model=CaseSummary)
def cancel(case_id: str, body: Decision, svc: ServicesDep, operator: OperatorDep) -> CaseSummary:
    return _summary(cases.cancel(svc, operator, case_id, reason=body.reason))


@router.post("/cases/{case_id}/break-glass", response_model=CaseSummary)
def break_glass(
    case_id: str, body: BreakGlassIn, svc: ServicesDep, operator: OperatorDep
) -> CaseSummary:
    """Send a blocked case on under an active break-glass exception: the hold
    keeps standing, this case alone goes on (to proofing, or to approval when
    its evidence is in) and needs the tier's approvers plus a security
    approver; security is alerted by mail and signed webhook. Refusals answer
    `break_glass_refused` (docs/exceptions.md)."""
    from custos.service.exceptions import break_glass as glass

    case = glass.invoke(svc, operator, case_id, exception_id=body.exception, reason=body.reason)
    need = case.requirements.approvals
    return _summary(
        case,
        f"break-glass used: the case is {case.state}; it needs {need} approvals, "
        "one from a security approver",
    )


@router.post("/cases/{case_id}/retry")
def retry(case_id: str, body: RetryIn, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    count = cases.retry(svc, operator, case_id, target=body.target)
    return {"case": case_id, "requeued": count}
