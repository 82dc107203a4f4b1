"""Assisted proofing: manager or sponsor attestation and agent-run challenges.

Operator endpoints start them; the attester's and the subject's pages (tokens
in the URL fragment, posted only on a click) answer them. No response to an
operator ever carries a link, a code or a token (R-34)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import RequestBody
from custos.service.ceremonies import agent_challenge, attestation

operator_router = APIRouter(prefix="/api/v1", tags=["operators"])
public_router = APIRouter(prefix="/api/v1", tags=["assisted proofing"])


class TokenIn(RequestBody):
    token: str = Field(min_length=1, max_length=200)


class ChallengeIn(RequestBody):
    mode: Literal["totp", "contact_code"] | None = None


class ChallengeAnswerIn(RequestBody):
    token: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=20)


@operator_router.post("/cases/{case_id}/attestation", status_code=202)
def request_attestation(case_id: str, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    relation = attestation.request(svc, operator, case_id)
    return {
        "case": case_id,
        "attestation": "requested",
        "relation": relation,
        "message": f"a one-time link went to the subject's {relation}",
    }


@operator_router.post("/cases/{case_id}/challenge", status_code=202)
def trigger_challenge(
    case_id: str, body: ChallengeIn, svc: ServicesDep, operator: OperatorDep
) -> dict[str, Any]:
    status = agent_challenge.trigger(svc, operator, case_id, mode=body.mode)
    return {
        "case": status.case_id,
        "challenge": status.state,
        "mode": status.mode,
        "expires_at": status.expires_at.isoformat(),
        "case_state": status.case_state,
        "message": "the subject answers on their own device; watch the case for the result",
    }


@public_router.post("/attestations/lookup")
def lookup_attestation(body: TokenIn, svc: ServicesDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    view = attestation.lookup(svc, token=body.token)
    return {
        "case": view.case_id,
        "subject": view.display_name,
        "relation": view.relation,
        "channel": view.channel,
        "reason": view.reason,
        "requested_at": view.requested_at.isoformat(),
        "expires_at": view.expires_at.isoformat(),
    }


@public_router.post("/attestations/{decision}")
def decide_attestation(
    decision: Literal["attest", "refuse"], body: TokenIn, svc: ServicesDep, response: Response
) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    attestation.decide(svc, token=body.token, decision=decision)
    return {"status": "recorded", "decision": decision}


@public_router.post("/challenges/lookup")
def lookup_challenge(body: TokenIn, svc: ServicesDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    prompt = agent_challenge.lookup(svc, token=body.token)
    return {
        "case": prompt.case_id,
        "mode": prompt.mode,
        "expires_at": prompt.expires_at.isoformat(),
    }


@public_router.post("/challenges/answer")
def answer_challenge(
    body: ChallengeAnswerIn, svc: ServicesDep, response: Response
) -> dict[str, Any]:
    response.headers["Cache-Control"] = "no-store"
    return {"result": agent_challenge.answer(svc, token=body.token, code=body.code)}
