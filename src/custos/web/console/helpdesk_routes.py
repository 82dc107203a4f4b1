"""The help desk's subject pages (docs/console.md#help-desk): search subjects in
scope, a subject's page, and opening a case from it. The page's holds section
posts to ``hold_routes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.api.auth import client_address
from custos.domain.errors import (
    ChannelNotAllowed,
    DomainError,
    InvalidInput,
    NotAnOwner,
    NotFound,
    RecoveryBlocked,
)
from custos.domain.model import Channel
from custos.service.console.subjects import MAX_QUERY, search_subjects, subject_page
from custos.service.recovery import cases
from custos.web.console.hold_notices import EMPTY_HOLD_FORM, notice_for
from custos.web.console.refusals import refusal
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

SubjectId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/console/subjects", response_class=HTMLResponse)
def subjects(
    request: Request,
    ctx: ConsoleDep,
    q: Annotated[str | None, Query(max_length=MAX_QUERY)] = None,
) -> HTMLResponse:
    """The search page; an htmx request for ``#results`` gets the results only."""
    found = search_subjects(services(request), ctx.operator, q or "")
    if request.headers.get("hx-target") == "results":
        return render(request, "console/helpdesk/_results.html", found=found)
    return render(
        request,
        "console/helpdesk/subjects.html",
        **page_context(request, ctx, "Subjects"),
        found=found,
    )


@router.get("/console/subjects/{subject_id}", response_class=HTMLResponse)
def subject(
    request: Request,
    ctx: ConsoleDep,
    subject_id: SubjectId,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return subject_response(request, ctx, subject_id, notice=notice)


@router.post("/console/subjects/{subject_id}/cases", response_model=None)
def open_case(
    request: Request,
    ctx: CheckedDep,
    subject_id: SubjectId,
    reason: Annotated[str, Form(max_length=2000)] = "",
    ticket: Annotated[str, Form(max_length=100)] = "",
    channel: Annotated[str, Form(max_length=30)] = str(Channel.HELPDESK),
    on_behalf_of: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Open a case; on success (or a case recorded as blocked or denied) go to
    the case page, otherwise show the subject's page again with the problem.
    ``on_behalf_of``: for a shared account, the owner the caller is."""
    form = {"reason": reason, "ticket": ticket, "channel": channel, "on_behalf_of": on_behalf_of}
    try:
        if not ticket.strip():
            raise _missing("a ticket reference")
        if channel not in {str(c) for c in Channel}:
            raise _missing("a known channel")
        case = cases.open_helpdesk_case(
            services(request),
            ctx.operator,
            subject_id=subject_id,
            reason=reason,
            channel=Channel(channel),
            source_address=client_address(request),
            ticket=ticket,
            on_behalf_of=on_behalf_of,
        )
    except (RecoveryBlocked, ChannelNotAllowed) as exc:
        recorded = exc.details.get("case_id")
        if not isinstance(recorded, str):
            # No case was recorded (no tier of the policy describes the subject).
            return subject_response(request, ctx, subject_id, **refusal(exc), form=form)
        notice = (
            "opened_not_owner"
            if isinstance(exc, NotAnOwner)
            else "opened_blocked"
            if isinstance(exc, RecoveryBlocked)
            else "opened_denied"
        )
        return RedirectResponse(f"/console/cases/{recorded}?notice={notice}", status_code=303)
    except NotFound:
        raise
    except DomainError as exc:
        return subject_response(request, ctx, subject_id, **refusal(exc), form=form)
    return RedirectResponse(f"/console/cases/{case.id}?notice=opened", status_code=303)


def _missing(what: str) -> InvalidInput:
    return InvalidInput(f"opening a case needs {what}")


def subject_response(
    request: Request,
    ctx: ConsoleDep,
    subject_id: str,
    *,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    notice: str | None = None,
    hold_form: dict[str, str] | None = None,
) -> HTMLResponse:
    """The subject's page; ``error`` on top, ``form``/``hold_form``: what the
    case or hold form had (kept after a refusal), ``notice``: a key of
    ``hold_notices.NOTICES``."""
    page = subject_page(services(request), ctx.operator, subject_id)
    return render(
        request,
        "console/helpdesk/subject.html",
        status_code=status_code,
        **page_context(request, ctx, page.display_name),
        page=page,
        error=error,
        error_id=error_id,
        notice=notice_for(notice),
        form=form or {"reason": "", "ticket": "", "channel": "", "on_behalf_of": ""},
        hold_form=hold_form or EMPTY_HOLD_FORM,
    )
