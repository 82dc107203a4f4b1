"""Exceptions in the console (docs/console.md#exceptions): the list (by
status) with the request form, one exception with the cases that used it,
and approving and revoking. Each action is one call of
``service/exceptions/commands``, as the API makes it (same checks, same ledger
events, a refused approval recorded too); nothing is decided here.

Forms carry the session's CSRF token (``CheckedDep``). Success answers
POST/redirect/GET with ``?notice=KEY``; a refusal shows the page again with
the reason in plain words and its error id, under the error's status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.domain.errors import DomainError, InvalidInput, NotFound
from custos.service.console.exception_views import exception_detail, exceptions_page, in_words
from custos.service.console.sessions import ConsoleContext
from custos.service.exceptions import commands
from custos.web.console.case_notices import Notice
from custos.web.console.refusals import refusal
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

EXCEPTIONS_PAGE = "/console/exceptions"
ExceptionId = Annotated[str, Path(min_length=1, max_length=64)]
Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=200)]

NOTICES: Final[dict[str, Notice]] = {
    "requested": Notice(
        "ok",
        "The exception is requested and recorded in the ledger. It relaxes nothing until two "
        "people other than you approve it.",
    ),
    "approved": Notice("ok", "Your approval is recorded in the ledger."),
    "revoked": Notice(
        "ok", "The exception is revoked and recorded in the ledger: it relaxes nothing from now."
    ),
}
EMPTY_FORM: Final[dict[str, str]] = {
    "reason": "",
    "ticket": "",
    "target": "subjects",
    "subjects": "",
    "group": "",
    "tier": "",
    "relaxation": "approvals",
    "value": "",
    "ends_at": "",
}


def _notice(key: str | None) -> Notice | None:
    return NOTICES.get(key) if key else None


@router.get(EXCEPTIONS_PAGE, response_class=HTMLResponse)
def exceptions_list(
    request: Request,
    ctx: ConsoleDep,
    status: Annotated[str, Query(max_length=20)] = "all",
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return _list_response(request, ctx, status=status, notice=notice)


@router.post(EXCEPTIONS_PAGE, response_model=None)
def request_exception(
    request: Request,
    ctx: CheckedDep,
    reason: Text = "",
    ticket: Annotated[str, Form(max_length=100)] = "",
    target: Annotated[str, Form(max_length=20)] = "subjects",
    subjects: Text = "",
    group: Short = "",
    tier: Annotated[str, Form(max_length=100)] = "",
    relaxation: Annotated[str, Form(max_length=20)] = "",
    value: Short = "",
    ends_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Request an exception for the subjects, the group or the tier that
    ``target`` names (the other fields are ignored)."""
    form = {
        "reason": reason,
        "ticket": ticket,
        "target": target,
        "subjects": subjects,
        "group": group,
        "tier": tier,
        "relaxation": relaxation,
        "value": value,
        "ends_at": ends_at,
    }
    try:
        if target not in ("subjects", "group", "tier"):
            raise InvalidInput("choose what the exception covers: subjects, a group or a tier")
        record = commands.request_exception(
            services(request),
            ctx.operator,
            reason=reason,
            ticket=ticket,
            relaxation=commands.parse_relaxation(relaxation),
            value=value,
            ends_at=_ends_at(ends_at),
            subject_ids=tuple(subjects.replace(",", " ").split()) if target == "subjects" else (),
            group=(group or None) if target == "group" else None,
            tier=(tier or None) if target == "tier" else None,
        )
    except DomainError as exc:
        return _list_response(
            request,
            ctx,
            **refusal(exc, in_words(exc)),
            form=form,
        )
    return RedirectResponse(f"{EXCEPTIONS_PAGE}/{record.id}?notice=requested", status_code=303)


@router.get(EXCEPTIONS_PAGE + "/{exception_id}", response_class=HTMLResponse)
def exception_page(
    request: Request,
    ctx: ConsoleDep,
    exception_id: ExceptionId,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return _detail_response(request, ctx, exception_id, notice=notice)


@router.post(EXCEPTIONS_PAGE + "/{exception_id}/approve", response_model=None)
def approve_exception(request: Request, ctx: CheckedDep, exception_id: ExceptionId) -> Response:
    try:
        commands.approve_exception(services(request), ctx.operator, exception_id)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, exception_id, exc)
    return RedirectResponse(f"{EXCEPTIONS_PAGE}/{exception_id}?notice=approved", status_code=303)


@router.post(EXCEPTIONS_PAGE + "/{exception_id}/revoke", response_model=None)
def revoke_exception(
    request: Request, ctx: CheckedDep, exception_id: ExceptionId, reason: Text = ""
) -> Response:
    try:
        commands.revoke_exception(services(request), ctx.operator, exception_id, reason=reason)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, exception_id, exc)
    return RedirectResponse(f"{EXCEPTIONS_PAGE}/{exception_id}?notice=revoked", status_code=303)


def _ends_at(value: str) -> datetime | None:
    """The form's end time (a ``datetime-local`` value, read as UTC), or None
    (the command refuses an exception without one)."""
    value = value.strip()
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("the end time is not a date and time (e.g. 2026-12-31 18:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _refused(
    request: Request, ctx: ConsoleContext, exception_id: str, exc: DomainError
) -> HTMLResponse:
    return _detail_response(request, ctx, exception_id, **refusal(exc, in_words(exc)))


def _detail_response(
    request: Request,
    ctx: ConsoleContext,
    exception_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    detail = exception_detail(services(request), ctx.operator, exception_id)
    return render(
        request,
        "console/exceptions/exception.html",
        status_code=status_code,
        **page_context(request, ctx, f"Exception {detail.line.id}"),
        detail=detail,
        e=detail.line,
        notice=_notice(notice),
        error=error,
        error_id=error_id,
    )


def _list_response(
    request: Request,
    ctx: ConsoleContext,
    *,
    status: str = "all",
    notice: str | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    page = exceptions_page(services(request), ctx.operator, status=status)
    return render(
        request,
        "console/exceptions/list.html",
        status_code=status_code,
        **page_context(request, ctx, "Exceptions"),
        page=page,
        notice=_notice(notice),
        error=error,
        error_id=error_id,
        form=form or EMPTY_FORM,
    )
