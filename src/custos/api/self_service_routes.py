"""Unauthenticated self-service endpoints. Each answers the same status and body
for known and unknown accounts (R-19); none ever echoes what was sent."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from custos.api import device_cookie
from custos.api.auth import ServicesDep, client_address
from custos.api.schemas import (
    Accepted,
    FlowStarted,
    ProofIn,
    RedeemIn,
    RedeemOut,
    SelfServiceProofOut,
    StartRecovery,
)
from custos.service.recovery import credentials, self_service

router = APIRouter(prefix="/api/v1/self-service", tags=["self-service"])

START_MESSAGE = (
    "If the account exists, recovery has started. Prove who you are with an "
    "enrolled method, or ask for a code to your confirmed email address."
)


@router.post("/recoveries", status_code=202, response_model=FlowStarted)
def start(
    body: StartRecovery, request: Request, svc: ServicesDep, response: Response
) -> FlowStarted:
    device = device_cookie.ensure(svc, request, response)
    flow = self_service.start(
        svc,
        identifier=body.identifier,
        source_address=client_address(request),
        device_digest=device_cookie.device_digest(svc, device),
    )
    return FlowStarted(status="accepted", message=START_MESSAGE, flow=flow)


@router.post("/recoveries/{flow}/email-code", status_code=202, response_model=Accepted)
def email_code(flow: str, request: Request, svc: ServicesDep) -> Accepted:
    self_service.request_email_code(svc, handle=flow, source_address=client_address(request))
    return Accepted(
        status="accepted", message="If a confirmed email address is on file, a code is on its way."
    )


@router.post("/recoveries/{flow}/proofs", response_model=SelfServiceProofOut)
def prove(
    flow: str, body: ProofIn, request: Request, svc: ServicesDep, response: Response
) -> SelfServiceProofOut:
    response.headers["Cache-Control"] = "no-store"
    result = self_service.submit_proof(
        svc,
        handle=flow,
        method=body.method,
        response=body.code,
        source_address=client_address(request),
    )
    return SelfServiceProofOut(
        status=result.status, replacement_recovery_code=result.replacement_recovery_code
    )


@router.post("/reset", response_model=RedeemOut)
def reset(body: RedeemIn, request: Request, svc: ServicesDep, response: Response) -> RedeemOut:
    response.headers["Cache-Control"] = "no-store"
    result = credentials.redeem(
        svc,
        token=body.token,
        new_password=body.new_password,
        source_address=client_address(request),
    )
    return RedeemOut(
        status="accepted", case=result.case_id, temporary_password=result.temporary_password
    )
