"""The case page (docs/console.md#help-desk) and its live part: state, receipts
and checks, polled by htmx while the systems are being updated. The page is
shared by every role; role-specific panels are template includes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from custos.service.console.case_page import case_page
from custos.service.console.sessions import ConsoleContext
from custos.web.console.case_notices import notice_for
from custos.web.console.session import ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

CaseId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/console/cases/{case_id}", response_class=HTMLResponse)
def case(
    request: Request,
    ctx: ConsoleDep,
    case_id: CaseId,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return case_response(request, ctx, case_id, notice=notice)


@router.get("/console/cases/{case_id}/live", response_class=HTMLResponse)
def live(
    request: Request,
    ctx: ConsoleDep,
    case_id: CaseId,
    shown: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The live part alone. When the state moved on from the one the page shows
    (``shown``), htmx loads the whole page again (other actions may apply now),
    without the notice of the action that led to it."""
    page = case_page(services(request), ctx.operator, case_id)
    moved = shown is not None and shown != page.state
    headers = {"HX-Redirect": f"/console/cases/{page.detail['id']}"} if moved else None
    return render(request, "console/case/_live.html", headers=headers, page=page)


def case_response(
    request: Request,
    ctx: ConsoleContext,
    case_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The case page, with a notice (by key) or an error message on top."""
    page = case_page(services(request), ctx.operator, case_id)
    return render(
        request,
        "console/case/case.html",
        status_code=status_code,
        **page_context(request, ctx, f"Case {page.detail['id']}"),
        page=page,
        notice=notice_for(notice),
        error=error,
        error_id=error_id,
    )
