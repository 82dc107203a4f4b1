"""Holds in the console (docs/console.md#holds): the holds list under Audit
(with a form for a hold on a group), and setting and lifting from it or from a
subject's page. Each action is one call of ``service/holds/commands``, as the
API makes it; nothing is decided here.

Forms carry the session's CSRF token (``CheckedDep``). Success answers
POST/redirect/GET back to the page the form was on, with ``?notice=KEY``; a
refusal shows that page again with the reason in plain words, under the
error's status, and the form as it was typed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.domain.errors import DomainError, InvalidInput, NotFound
from custos.service.console.hold_views import holds_page, in_words
from custos.service.console.sessions import ConsoleContext
from custos.service.holds import commands
from custos.web.console.helpdesk_routes import subject_response
from custos.web.console.hold_notices import EMPTY_HOLD_FORM, notice_for
from custos.web.console.refusals import refusal
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

HOLDS_PAGE = "/console/audit/holds"
HoldId = Annotated[str, Path(min_length=1, max_length=64)]
Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=200)]


@router.get(HOLDS_PAGE, response_class=HTMLResponse)
def holds_list(
    request: Request,
    ctx: ConsoleDep,
    status: Annotated[str, Query(max_length=20)] = "standing",
    subject: Annotated[str, Query(max_length=200)] = "",
    group: Annotated[str, Query(max_length=200)] = "",
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return _list_response(
        request, ctx, status=status, subject=subject.strip(), group=group.strip(), notice=notice
    )


@router.post("/console/holds", response_model=None)
def set_hold(
    request: Request,
    ctx: CheckedDep,
    kind: Annotated[str, Form(max_length=40)] = "",
    reason: Text = "",
    ticket: Annotated[str, Form(max_length=100)] = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
    subject: Short = "",
    group: Short = "",
) -> Response:
    """A hold on ``subject`` (from its page) or on ``group`` (from the list)."""
    form = {"kind": kind, "reason": reason, "ticket": ticket, "ends_at": ends_at, "group": group}
    try:
        commands.set_hold(
            services(request),
            ctx.operator,
            kind=kind,
            subject_id=subject or None,
            group=None if subject else group,
            reason=reason,
            ticket=ticket,
            ends_at=_ends_at(ends_at),
        )
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, exc, subject=subject, hold_form=form)
    return _back(subject, "hold_set")


@router.post("/console/holds/{hold_id}/lift", response_model=None)
def lift_hold(
    request: Request,
    ctx: CheckedDep,
    hold_id: HoldId,
    reason: Text = "",
    subject: Short = "",
) -> Response:
    """Lift a hold; ``subject``: the page the form was on (else the list)."""
    try:
        commands.lift_hold(services(request), ctx.operator, hold_id, reason=reason)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, exc, subject=subject)
    return _back(subject, "hold_lifted")


def _ends_at(value: str) -> datetime | None:
    """The form's end time (a ``datetime-local`` value, read as UTC), or None."""
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("the end time is not a date and time (e.g. 2026-12-31 18:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _back(subject: str, notice: str) -> RedirectResponse:
    if subject:
        target = f"/console/subjects/{quote(subject, safe='')}?notice={notice}#holds"
    else:
        target = f"{HOLDS_PAGE}?notice={notice}"
    return RedirectResponse(target, status_code=303)


def _refused(
    request: Request,
    ctx: ConsoleContext,
    exc: DomainError,
    *,
    subject: str,
    hold_form: dict[str, str] | None = None,
) -> HTMLResponse:
    shown = refusal(exc, in_words(exc))
    if subject:
        return subject_response(request, ctx, subject, **shown, hold_form=hold_form)
    return _list_response(request, ctx, **shown, form=hold_form)


def _list_response(
    request: Request,
    ctx: ConsoleContext,
    *,
    status: str = "standing",
    subject: str = "",
    group: str = "",
    notice: str | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    page = holds_page(services(request), ctx.operator, status=status, subject=subject, group=group)
    return render(
        request,
        "console/audit/holds.html",
        status_code=status_code,
        **page_context(request, ctx, "Holds"),
        page=page,
        notice=notice_for(notice),
        error=error,
        error_id=error_id,
        form=form or EMPTY_HOLD_FORM,
    )
