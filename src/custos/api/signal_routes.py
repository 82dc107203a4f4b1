"""Inbound risk signals: the carrier's signed SIM-swap webhook (R-44), and the
operator and self-service routes for SMS codes (R-13, R-15, R-20)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from custos.api.auth import OperatorDep, ServicesDep, client_address
from custos.api.schemas import Accepted
from custos.service.notices import sms_commands
from custos.service.recovery import self_service
from custos.service.signals import risk_signals

signals_router = APIRouter(prefix="/api/v1/signals", tags=["risk signals"])
operator_router = APIRouter(prefix="/api/v1", tags=["operators"])
self_service_router = APIRouter(prefix="/api/v1/self-service", tags=["self-service"])


#: The webhook reads its body raw (the signature covers the exact bytes), so its
#: shape is declared here rather than by a model.
SIM_SWAP_DOC: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "subject": {"type": "string", "description": "A subject id."},
                        "phone": {"type": "string", "description": "An E.164 number."},
                        "kind": {"type": "string", "enum": sorted(risk_signals.KINDS)},
                        "observed_at": {"type": "string", "format": "date-time"},
                        "provider": {"type": "string", "maxLength": 100},
                    },
                    "required": ["kind"],
                    "additionalProperties": False,
                }
            }
        },
    },
    "parameters": [
        {
            "name": risk_signals.TIMESTAMP_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Unix seconds of the request.",
        },
        {
            "name": risk_signals.SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Hex HMAC-SHA256 of `<timestamp>.<body>` with the shared secret.",
        },
    ],
}


@signals_router.post(
    "/sim-swap", status_code=202, response_model=Accepted, openapi_extra=SIM_SWAP_DOC
)
async def sim_swap(request: Request, svc: ServicesDep) -> Accepted:
    """A carrier reports a SIM swap or number porting, naming the subject by id
    or by the phone number (every subject keeping it). Signed with HMAC-SHA256
    over ``<X-Custos-Timestamp>.<body>`` (see ``service/signals/risk_signals.py``); a bad
    signature, a stale timestamp or a replay answers 401 ``signature_invalid``."""
    body = await request.body()
    received = risk_signals.receive_sim_swap(
        svc,
        body=body,
        timestamp=request.headers.get(risk_signals.TIMESTAMP_HEADER, ""),
        signature=request.headers.get(risk_signals.SIGNATURE_HEADER, ""),
    )
    if not received.subject_ids:
        return Accepted(
            status="accepted", message="no subject keeps this number; nothing was recorded"
        )
    count = len(received.subject_ids)
    return Accepted(
        status="accepted",
        message=f"{received.signal.kind} recorded for {count} subject"
        f"{'' if count == 1 else 's'}; SMS recovery is blocked for "
        f"{svc.settings.sim_swap_block_days} days",
    )


@operator_router.post("/cases/{case_id}/sms-code", status_code=202, response_model=Accepted)
def send_sms_code(case_id: str, svc: ServicesDep, operator: OperatorDep) -> Accepted:
    """Text a code to the subject's confirmed phone numbers; ``sms_blocked`` after
    a recent SIM swap (R-44), ``throttled`` when the send limits refuse (R-20)."""
    sms_commands.send_sms_code(svc, operator, case_id)
    return Accepted(status="accepted", message="a code was sent to the confirmed phone numbers")


@self_service_router.post("/recoveries/{flow}/sms-code", status_code=202, response_model=Accepted)
def request_sms_code(flow: str, request: Request, svc: ServicesDep) -> Accepted:
    """Same answer whatever happened (no account, no phone, SIM swap, throttled)."""
    self_service.request_sms_code(svc, handle=flow, source_address=client_address(request))
    return Accepted(
        status="accepted", message="If a confirmed phone number is on file, a code is on its way."
    )
