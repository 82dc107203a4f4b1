"""Service and shared accounts in the console
(docs/console.md#service-accounts): the list with owners, rotations and
flags (auditors and admins), the interactive-use check of one account
(auditors and admins, as ``POST /api/v1/service-accounts/{id}/interactive-use``:
it reads the targets and records each flag in the ledger), and an owner's
departure with a successor (admins, as ``POST /api/v1/owners/{id}/depart``).
Each action is one call of ``service/service_accounts``, as the API makes it.

Forms carry the session's CSRF token (``CheckedDep``). A refusal shows the
page again with the reason in plain words and its error id, under the
error's status. No secret is ever on these pages."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.domain.errors import DomainError, NotFound
from custos.service.console.service_account_views import (
    check_reader,
    service_accounts_page,
)
from custos.service.console.sessions import ConsoleContext
from custos.service.service_accounts import interactive, owners
from custos.service.service_accounts.interactive import UseReport
from custos.web.console.case_notices import Notice
from custos.web.console.refusals import refusal
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

SERVICE_ACCOUNTS_PAGE = "/console/service-accounts"
SubjectId = Annotated[str, Path(min_length=1, max_length=200)]

NOTICES: Final[dict[str, Notice]] = {
    "departed": Notice(
        "ok",
        "The departure is recorded in the ledger: every service account of the departed owner "
        "passed to the successor, and a rotation case opened for each (the successor confirms "
        "it with their own factor).",
    ),
}


@router.get(SERVICE_ACCOUNTS_PAGE, response_class=HTMLResponse)
def service_accounts(
    request: Request,
    ctx: ConsoleDep,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return _page(request, ctx, notice=NOTICES.get(notice or ""))


@router.post(SERVICE_ACCOUNTS_PAGE + "/{service_id}/interactive-use", response_model=None)
def check_interactive_use(request: Request, ctx: CheckedDep, service_id: SubjectId) -> Response:
    """Read the logons the targets record for the account (flags go to the
    ledger) and show them above the list."""
    svc = services(request)
    try:
        check_reader(ctx.operator)
        owners.check_in_scope(svc, ctx.operator, service_id)
        reports = interactive.check(svc, service_id=service_id, actor=ctx.operator.actor)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, exc)
    return _page(request, ctx, checked=service_id, reports=reports)


@router.post(SERVICE_ACCOUNTS_PAGE + "/depart", response_model=None)
def depart(
    request: Request,
    ctx: CheckedDep,
    owner: Annotated[str, Form(max_length=200)] = "",
    successor: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """An owner left: their service accounts pass to ``successor``."""
    try:
        owners.depart(
            services(request),
            ctx.operator,
            owner_id=owner.strip(),
            successor_id=successor.strip(),
            reason=reason,
        )
    except DomainError as exc:
        return _refused(request, ctx, exc, form={"owner": owner, "successor": successor})
    return RedirectResponse(f"{SERVICE_ACCOUNTS_PAGE}?notice=departed", status_code=303)


def _refused(
    request: Request,
    ctx: ConsoleContext,
    exc: DomainError,
    *,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    return _page(request, ctx, **refusal(exc), form=form)


def _page(
    request: Request,
    ctx: ConsoleContext,
    *,
    notice: Notice | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
    checked: str | None = None,
    reports: list[UseReport] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    page = service_accounts_page(services(request), ctx.operator)
    return render(
        request,
        "console/service_accounts.html",
        status_code=status_code,
        **page_context(request, ctx, "Service and shared accounts"),
        page=page,
        notice=notice,
        error=error,
        error_id=error_id,
        checked=checked,
        reports=reports or [],
        form=form or {"owner": "", "successor": ""},
    )
