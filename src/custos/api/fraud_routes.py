"""Fraud flags (R-43): the subject's "this wasn't me" (unauthenticated, one
generic answer whatever the token) and the operator's flag on a case."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import Accepted, CaseSummary, RequestBody
from custos.service.signals import fraud

self_service_router = APIRouter(prefix="/api/v1/self-service", tags=["self-service"])
operator_router = APIRouter(prefix="/api/v1", tags=["operators"])


class RepudiateIn(RequestBody):
    token: str = Field(min_length=1, max_length=200)


class FlagFraudIn(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


@self_service_router.post("/repudiate", status_code=202, response_model=Accepted)
def repudiate(body: RepudiateIn, svc: ServicesDep, response: Response) -> Accepted:
    """Stop the recovery behind a repudiation link. Same status and body for a
    valid, used, expired or unknown token: nothing about the case is revealed."""
    response.headers["Cache-Control"] = "no-store"
    fraud.repudiate(svc, token=body.token)
    return Accepted(status="accepted", message=fraud.REPUDIATION_ANSWER)


@operator_router.post("/cases/{case_id}/flag-fraud", response_model=CaseSummary)
def flag_fraud(
    case_id: str, body: FlagFraudIn, svc: ServicesDep, operator: OperatorDep
) -> CaseSummary:
    case = fraud.flag_fraud(svc, operator, case_id, reason=body.reason)
    return CaseSummary(
        id=case.id,
        state=str(case.state),
        tier=case.requirements.tier,
        subject=case.subject_id,
        message="fraud flagged: the subject is frozen and security was alerted",
    )
