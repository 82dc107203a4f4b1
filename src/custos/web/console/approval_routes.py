"""Approvers' pages (docs/console.md#approvals): the inbox of cases waiting for
the signed-in operator, a case's whole context, and approve or deny with a
reason. Decisions go through ``service.recovery.cases``; a refusal is shown in
plain words on the case's page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.domain.errors import (
    AlreadyDecided,
    DomainError,
    InvalidInput,
    NotAuthorized,
    OutOfScope,
    SeparationOfDuties,
)
from custos.service.console.approval_inbox import decision_context, inbox
from custos.service.console.sessions import ConsoleContext
from custos.service.recovery import cases
from custos.service.recovery.cases import MAX_REASON
from custos.web.console.refusals import plain_refusal
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

CaseId = Annotated[str, Path(min_length=1, max_length=100)]

#: What the credential action of a tier does, for the approver.
ACTIONS = {
    "reset_token": "The subject receives a one-time link at their confirmed email address "
    "and chooses a new password, which Custos then sets on each system below.",
    "temp_password": "Custos sets a temporary password on each system below; it must be "
    "replaced at first use.",
    "block": "Nothing: this tier refuses recovery.",
}

DONE = {
    "approved": "Your approval is recorded.",
    "denied": "You denied this case. The subject's pending links are void.",
}


@router.get("/console/approvals", response_class=HTMLResponse)
def approval_inbox(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    waiting = inbox(services(request), ctx.operator)
    return render(
        request,
        "console/approvals/inbox.html",
        **page_context(request, ctx, "Approvals"),
        cases=waiting,
    )


@router.get("/console/approvals/{case_id}", response_class=HTMLResponse)
def approval_page(
    request: Request,
    ctx: ConsoleDep,
    case_id: CaseId,
    done: Annotated[Literal["approved", "denied"] | None, Query()] = None,
) -> HTMLResponse:
    return _page(request, ctx, case_id, done=done)


@router.post("/console/approvals/{case_id}", response_model=None)
def decide(
    request: Request,
    ctx: CheckedDep,
    case_id: CaseId,
    decision: Annotated[Literal["approve", "deny"], Form()],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    """Approve or deny with the reason given; on a refusal, the case's page again
    with the reason in plain words (the form keeps what was typed)."""
    act = cases.approve if decision == "approve" else cases.deny
    try:
        act(services(request), ctx.operator, case_id, reason=reason)
    except InvalidInput as exc:
        problem = "Give the reason for your decision." if not reason.strip() else exc.message
        return _page(request, ctx, case_id, problem=problem, reason=reason, status_code=422)
    except (SeparationOfDuties, NotAuthorized, OutOfScope, AlreadyDecided) as exc:
        status = 409 if isinstance(exc, AlreadyDecided) else 403
        return _page(request, ctx, case_id, refused=exc, reason=reason, status_code=status)
    outcome = "approved" if decision == "approve" else "denied"
    return RedirectResponse(f"/console/approvals/{case_id}?done={outcome}", status_code=303)


def _page(
    request: Request,
    ctx: ConsoleContext,
    case_id: str,
    *,
    done: str | None = None,
    problem: str | None = None,
    refused: DomainError | None = None,
    reason: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = decision_context(services(request), ctx.operator, case_id)
    detail = context.detail
    why = refused or context.refusal
    return render(
        request,
        "console/approvals/case.html",
        status_code=status_code,
        **page_context(request, ctx, f"Case {detail['id']}"),
        c=context,
        d=detail,
        action=ACTIONS.get(context.action, context.action),
        refusal=plain_refusal(why, tier=detail["tier"], state=detail["state"]) if why else None,
        refused_now=refused is not None,
        # Only what this operator did decide: a link cannot make the page say so.
        notice=DONE[done] if done and done == context.decided else None,
        problem=problem,
        reason=reason,
        max_reason=MAX_REASON,
    )
