"""WebAuthn as case proofing: options for a self-service flow (the assertion then
goes to ``.../proofs`` with method ``webauthn`` and the assertion JSON as
``code``), and the help-desk path: the agent sends a link, the subject's own
device asks for options and posts the assertion (the pages are in
custos.web.portal)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.me_schemas import LinkBody, LinkProofBody
from custos.service.ceremonies import webauthn_proofing

self_service_router = APIRouter(prefix="/api/v1/self-service", tags=["self-service"])
operator_router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@self_service_router.post("/recoveries/{flow}/webauthn/options")
def flow_options(flow: str, svc: ServicesDep, response: Response) -> dict[str, Any]:
    """Request options bound to the flow's case; the same shape for a flow with no
    case behind it (R-19)."""
    response.headers["Cache-Control"] = "no-store"
    return webauthn_proofing.self_service_options(svc, handle=flow)


@self_service_router.post("/webauthn-links/options")
def link_options(body: LinkBody, svc: ServicesDep) -> dict[str, Any]:
    return webauthn_proofing.link_options(svc, link=body.link)


@self_service_router.post("/webauthn-links/proof")
def link_proof(body: LinkProofBody, svc: ServicesDep) -> dict[str, str]:
    state = webauthn_proofing.link_proof(svc, link=body.link, response=json.dumps(body.credential))
    return {"status": "accepted", "state": str(state)}


@operator_router.post("/{case_id}/webauthn-link", status_code=202)
def send_link(case_id: str, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    """Send the subject a one-time link to confirm with their security key; the
    agent learns only whether the proof later passed (case state)."""
    sent = webauthn_proofing.send_link(svc, operator, case_id)
    return {"status": "sent", "recipients": sent}
