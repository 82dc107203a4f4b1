"""Unauthenticated self-service endpoints. Each answers the same status and body
for known and unknown accounts (R-19); none ever echoes what was sent."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from custos.api import device_cookie
from custos.api.auth import ServicesDep, client_address
from custos.api.schemas import (
    Accepted,
    FlowStarted,
    OwnerLinkIn,
    OwnerLinkOut,
    PasswordVerdictOut,
    ProgressIn,
    ProgressOut,
    ProofIn,
    RedeemIn,
    RedeemOut,
    ResetCheckIn,
    ResetCheckOut,
    SelfServiceProofOut,
    StartRecovery,
    SystemProgressOut,
)
from custos.service.recovery import (
    credentials,
    offered_methods,
    reset_check,
    reset_progress,
    self_service,
    shared_accounts,
)

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
    return FlowStarted(
        status="accepted",
        message=START_MESSAGE,
        flow=flow,
        methods=list(offered_methods.offered_to_anyone(svc.policy)),
    )


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
        status=result.status,
        replacement_recovery_code=result.replacement_recovery_code,
        methods=list(result.methods),
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
        status="accepted",
        case=result.case_id,
        temporary_password=result.temporary_password,
        progress=reset_progress.issue_ticket(svc, result.case_id, now=svc.clock.now()),
    )


@router.post("/reset/check", response_model=ResetCheckOut)
def check_reset(body: ResetCheckIn, svc: ServicesDep, response: Response) -> ResetCheckOut:
    """Whether a reset link still works, what it does, and the password rules'
    verdict on a candidate (the same rules as ``/reset``). Changes nothing."""
    response.headers["Cache-Control"] = "no-store"
    rules = reset_check.check(svc, token=body.token, candidate=body.new_password)
    verdict = rules.verdict
    return ResetCheckOut(
        action=rules.action,
        min_length=rules.min_length,
        max_length=rules.max_length,
        expires_at=rules.expires_at,
        verdict=None
        if verdict is None
        else PasswordVerdictOut(
            acceptable=verdict.acceptable, reasons=list(verdict.reasons), score=verdict.score
        ),
    )


@router.post("/reset/progress", response_model=ProgressOut)
def progress(body: ProgressIn, svc: ServicesDep, response: Response) -> ProgressOut:
    """Which systems the recovery updated, with the ticket ``/reset`` answered."""
    response.headers["Cache-Control"] = "no-store"
    seen = reset_progress.progress(svc, body.ticket)
    return ProgressOut(
        case=seen.case_id,
        state=seen.state,
        finished=seen.finished,
        systems=[
            SystemProgressOut(
                system=one.system, account=one.account, state=one.state, updated_at=one.updated_at
            )
            for one in seen.systems
        ],
    )


@router.post("/shared-credential", response_model=OwnerLinkOut)
def shared_credential(body: OwnerLinkIn, svc: ServicesDep, response: Response) -> OwnerLinkOut:
    """One owner opens their own link to a shared account's new credential: it
    is shown once (docs/shared-accounts.md). token_invalid once used, voided or
    the case closed; token_expired after its end."""
    response.headers["Cache-Control"] = "no-store"
    result = shared_accounts.redeem(svc, token=body.token)
    return OwnerLinkOut(
        status="accepted",
        case=result.case_id,
        account=result.account,
        password=result.password,
        must_change=result.must_change,
        first=result.first,
    )
