"""Fraud flags (R-43): the subject's "this wasn't me" (unauthenticated, one
generic answer whatever the token) and the operator's flag on a case."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse
from pydantic import Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import Accepted, CaseSummary, RequestBody
from custos.service.signals import fraud

self_service_router = APIRouter(prefix="/api/v1/self-service", tags=["self-service"])
operator_router = APIRouter(prefix="/api/v1", tags=["operators"])
page_router = APIRouter(include_in_schema=False)


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


# The token travels in the fragment (never sent to a server) and is posted only on
# a click, so mail scanners that open links cannot repudiate a recovery by accident.
REPUDIATE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custos - this wasn't me</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1rem}</style></head>
<body><h1>This wasn't me</h1>
<p>If you did not ask to recover your account, stop the recovery here. Your security
team will be alerted and new recoveries of your account will be held until they
have looked at it. You will not be asked for a password or a code.</p>
<button id="b" type="button">Stop the recovery</button>
<p id="m" role="status"></p>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
history.replaceState(null, '', location.pathname);
document.getElementById('b').addEventListener('click', async () => {
  const r = await fetch('/api/v1/self-service/repudiate', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token: token})});
  const b = await r.json();
  document.getElementById('m').textContent = r.ok ? b.message : 'Something went wrong.';
  document.getElementById('b').disabled = true;
});
</script></body></html>
"""


@page_router.get("/repudiate", response_class=HTMLResponse)
def repudiate_page() -> HTMLResponse:
    return HTMLResponse(
        REPUDIATE_PAGE,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'",
        },
    )
