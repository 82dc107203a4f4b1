"""What an operator does on the case page (docs/console.md#help-desk): proofs,
codes and links to the subject, attestation, agent challenge, execute, retry,
cancel, flag fraud. Each is one service call, as the JSON API makes it
(api/operator_routes.py, assisted_routes.py, webauthn_routes.py,
signal_routes.py, fraud_routes.py); nothing is decided here.

Every form carries the session's CSRF token (``CheckedDep``). Success answers
POST/redirect/GET: back to the case page with ``?notice=KEY``. A refusal shows
the case page again with the reason on top (separation of duties in plain
words), under the error's status; a case outside the operator's scope answers
404 like a missing one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from custos.domain.errors import DomainError, NotFound, ProofingFailed, SeparationOfDuties
from custos.service.ceremonies import agent_challenge, attestation, webauthn_proofing
from custos.service.console.case_page import refusal_in_words
from custos.service.console.sessions import ConsoleContext
from custos.service.exceptions import break_glass as glass
from custos.service.notices import sms_commands
from custos.service.recovery import cases
from custos.service.signals import fraud
from custos.web.console.case_routes import CaseId, case_response
from custos.web.console.refusals import refusal
from custos.web.console.session import CheckedDep, services

router = APIRouter(include_in_schema=False)

Reason = Annotated[str, Form(max_length=2000)]


def _act(
    request: Request,
    ctx: ConsoleContext,
    case_id: str,
    action: str,
    run: Callable[[], str],
) -> Response:
    """Run ``run`` (which returns the notice key) and answer as the module says."""
    try:
        notice = run()
    except NotFound:
        raise
    except DomainError as exc:
        message = exc.message
        if isinstance(exc, SeparationOfDuties):
            message = refusal_in_words(services(request), ctx.operator, case_id, action) or message
        return case_response(
            request,
            ctx,
            case_id,
            **refusal(exc, message),
        )
    return RedirectResponse(f"/console/cases/{case_id}?notice={notice}", status_code=303)


@router.post("/console/cases/{case_id}/proofs", response_model=None)
def add_proof(
    request: Request,
    ctx: CheckedDep,
    case_id: CaseId,
    method: Annotated[str, Form(min_length=1, max_length=50)],
    response: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    """Evidence the caller gave the agent: a code they read out, or a re-proofing
    result. The response is checked and spent, never shown again."""

    def run() -> str:
        try:
            cases.add_proof(
                services(request), ctx.operator, case_id, method=method, response=response
            )
        except ProofingFailed as exc:
            if exc.error_id != ProofingFailed.error_id:
                raise  # a voided code and the like: its own message
            return "proof_failed"  # recorded on the case: the next page counts it
        return "proof_passed"

    return _act(request, ctx, case_id, "proof", run)


@router.post("/console/cases/{case_id}/email-code", response_model=None)
def send_email_code(request: Request, ctx: CheckedDep, case_id: CaseId) -> Response:
    def run() -> str:
        sent = cases.send_email_code(services(request), ctx.operator, case_id)
        return "email_code_sent" if sent else "email_code_not_sent"

    return _act(request, ctx, case_id, "proof", run)


@router.post("/console/cases/{case_id}/sms-code", response_model=None)
def send_sms_code(request: Request, ctx: CheckedDep, case_id: CaseId) -> Response:
    def run() -> str:
        sms_commands.send_sms_code(services(request), ctx.operator, case_id)
        return "sms_code_sent"

    return _act(request, ctx, case_id, "proof", run)


@router.post("/console/cases/{case_id}/webauthn-link", response_model=None)
def send_webauthn_link(request: Request, ctx: CheckedDep, case_id: CaseId) -> Response:
    def run() -> str:
        webauthn_proofing.send_link(services(request), ctx.operator, case_id)
        return "webauthn_link_sent"

    return _act(request, ctx, case_id, "proof", run)


@router.post("/console/cases/{case_id}/attestation", response_model=None)
def request_attestation(request: Request, ctx: CheckedDep, case_id: CaseId) -> Response:
    def run() -> str:
        attestation.request(services(request), ctx.operator, case_id)
        return "attestation_requested"

    return _act(request, ctx, case_id, "proof", run)


@router.post("/console/cases/{case_id}/challenge", response_model=None)
def send_challenge(
    request: Request,
    ctx: CheckedDep,
    case_id: CaseId,
    mode: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """``mode`` empty: the service picks (TOTP when enrolled, else a contact code)."""

    def run() -> str:
        agent_challenge.trigger(services(request), ctx.operator, case_id, mode=mode or None)
        return "challenge_sent"

    return _act(request, ctx, case_id, "proof", run)


@router.post("/console/cases/{case_id}/break-glass", response_model=None)
def break_glass(
    request: Request,
    ctx: CheckedDep,
    case_id: CaseId,
    exception: Annotated[str, Form(min_length=1, max_length=80)],
    reason: Reason,
) -> Response:
    """Send a blocked case on under an active break-glass exception
    (docs/exceptions.md): the help desk or a security approver, with a
    documented reason; security is alerted."""

    def run() -> str:
        glass.invoke(
            services(request), ctx.operator, case_id, exception_id=exception, reason=reason
        )
        return "break_glass_used"

    return _act(request, ctx, case_id, "break_glass", run)


@router.post("/console/cases/{case_id}/execute", response_model=None)
def execute(request: Request, ctx: CheckedDep, case_id: CaseId) -> Response:
    """The one-time link goes to the subject's confirmed contacts; the executor
    never sees it (nor, for temp_password tiers, the temporary password)."""

    def run() -> str:
        cases.execute(services(request), ctx.operator, case_id)
        return "executed"

    return _act(request, ctx, case_id, "execute", run)


@router.post("/console/cases/{case_id}/retry", response_model=None)
def retry(
    request: Request,
    ctx: CheckedDep,
    case_id: CaseId,
    target: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Queue the failed receipts again (of ``target`` only, when given)."""

    def run() -> str:
        cases.retry(services(request), ctx.operator, case_id, target=target or None)
        return "retried"

    return _act(request, ctx, case_id, "retry", run)


@router.post("/console/cases/{case_id}/cancel", response_model=None)
def cancel(request: Request, ctx: CheckedDep, case_id: CaseId, reason: Reason = "") -> Response:
    def run() -> str:
        cases.cancel(services(request), ctx.operator, case_id, reason=reason)
        return "cancelled"

    return _act(request, ctx, case_id, "cancel", run)


@router.post("/console/cases/{case_id}/flag-fraud", response_model=None)
def flag_fraud(request: Request, ctx: CheckedDep, case_id: CaseId, reason: Reason = "") -> Response:
    def run() -> str:
        fraud.flag_fraud(services(request), ctx.operator, case_id, reason=reason)
        return "fraud_flagged"

    return _act(request, ctx, case_id, "flag", run)
