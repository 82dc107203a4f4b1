"""Incident campaigns in the console (docs/console.md#campaigns): the list
with the start form, one campaign with its live progress (polled by htmx
while it runs), approving, pausing, resuming and cancelling, and the closing
report (HTML and JSON, the same bytes as the API's). Each action is one call
of ``service/campaigns/commands``, as the API makes it (same checks, same
ledger events, a refused approval recorded too); nothing is decided here.

Forms carry the session's CSRF token (``CheckedDep``). Success answers
POST/redirect/GET with ``?notice=KEY``; a refusal shows the page again with
the reason in plain words and its error id, under the error's status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Final

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from custos.domain.errors import DomainError, NotFound
from custos.domain.model import Operator
from custos.service.campaigns import commands, report
from custos.service.console.campaign_views import (
    ACTIONS,
    campaign_detail,
    campaigns_page,
    in_words,
    live_counts,
    may_start,
)
from custos.service.console.sessions import ConsoleContext
from custos.service.ports import Services
from custos.web.console.case_notices import Notice
from custos.web.console.refusals import refusal
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import page_headers, render

router = APIRouter(include_in_schema=False)

CAMPAIGNS_PAGE = "/console/campaigns"
CampaignId = Annotated[str, Path(min_length=1, max_length=64)]
Text = Annotated[str, Form(max_length=2000)]

NOTICES: Final[dict[str, Notice]] = {
    "started": Notice(
        "ok",
        "The campaign is started and recorded in the ledger. Nothing happens to its subjects "
        "until two people other than you approve it.",
    ),
    "approved": Notice("ok", "Your approval is recorded in the ledger."),
    "pause": Notice("ok", "The campaign is paused: no new case opens until it is resumed."),
    "resume": Notice("ok", "The campaign runs again."),
    "cancel": Notice(
        "ok",
        "The campaign is cancelled: members without a case are skipped; cases already "
        "opened finish as they are.",
    ),
}
EMPTY_FORM: Final[dict[str, str]] = {"group": "", "action": "", "reason": "", "ticket": ""}
#: The report as HTML is its own page with its own inline style: shown, but
#: sandboxed (no script, nothing fetched), never under the console's CSP.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

Move = Callable[..., object]
MOVES: Final[dict[str, Move]] = {
    "pause": commands.pause,
    "resume": commands.resume,
    "cancel": commands.cancel,
}


def _notice(key: str | None) -> Notice | None:
    return NOTICES.get(key) if key else None


@router.get(CAMPAIGNS_PAGE, response_class=HTMLResponse)
def campaigns_list(
    request: Request,
    ctx: ConsoleDep,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return _list_response(request, ctx, notice=notice)


@router.post(CAMPAIGNS_PAGE, response_model=None)
def start_campaign(
    request: Request,
    ctx: CheckedDep,
    group: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=30)] = "",
    reason: Text = "",
    ticket: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    form = {"group": group, "action": action, "reason": reason, "ticket": ticket}
    try:
        campaign, _ = commands.start(
            services(request),
            ctx.operator,
            group=group,
            action=action,
            reason=reason,
            ticket=ticket,
        )
    except DomainError as exc:
        return _list_response(
            request,
            ctx,
            **refusal(exc, in_words(exc)),
            form=form,
        )
    return RedirectResponse(f"{CAMPAIGNS_PAGE}/{campaign.id}?notice=started", status_code=303)


@router.get(CAMPAIGNS_PAGE + "/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    ctx: ConsoleDep,
    campaign_id: CampaignId,
    notice: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    return _detail_response(request, ctx, campaign_id, notice=notice)


@router.get(CAMPAIGNS_PAGE + "/{campaign_id}/live", response_class=HTMLResponse)
def campaign_live(
    request: Request,
    ctx: ConsoleDep,
    campaign_id: CampaignId,
    shown: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """The progress alone. When the state moved on from the one the page
    shows (``shown``), htmx loads the whole page again (other actions apply)."""
    campaign, counts = live_counts(services(request), ctx.operator, campaign_id)
    moved = shown is not None and shown != str(campaign.state)
    headers = {"HX-Redirect": f"{CAMPAIGNS_PAGE}/{campaign.id}"} if moved else None
    return render(
        request,
        "console/campaigns/_progress.html",
        headers=headers,
        campaign=campaign,
        counts=counts,
    )


@router.post(CAMPAIGNS_PAGE + "/{campaign_id}/approve", response_model=None)
def approve_campaign(
    request: Request, ctx: CheckedDep, campaign_id: CampaignId, reason: Text = ""
) -> Response:
    try:
        commands.approve(services(request), ctx.operator, campaign_id, reason=reason)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, campaign_id, exc)
    return RedirectResponse(f"{CAMPAIGNS_PAGE}/{campaign_id}?notice=approved", status_code=303)


@router.post(CAMPAIGNS_PAGE + "/{campaign_id}/{move}", response_model=None)
def move_campaign(
    request: Request,
    ctx: CheckedDep,
    campaign_id: CampaignId,
    move: Annotated[str, Path(pattern="^(pause|resume|cancel)$")],
    reason: Text = "",
) -> Response:
    """Pause, resume or cancel (the requester role, a scope over the group)."""
    try:
        MOVES[move](services(request), ctx.operator, campaign_id, reason=reason)
    except NotFound:
        raise
    except DomainError as exc:
        return _refused(request, ctx, campaign_id, exc)
    return RedirectResponse(f"{CAMPAIGNS_PAGE}/{campaign_id}?notice={move}", status_code=303)


@router.get(CAMPAIGNS_PAGE + "/{campaign_id}/report.json")
def campaign_report_json(request: Request, ctx: ConsoleDep, campaign_id: CampaignId) -> Response:
    """The closing report as the API answers it (the same bytes)."""
    data = report.campaign_report(services(request), ctx.operator, campaign_id)
    return JSONResponse(jsonable_encoder(data), headers={"Cache-Control": "no-store"})


@router.get(CAMPAIGNS_PAGE + "/{campaign_id}/report.html")
def campaign_report_html(request: Request, ctx: ConsoleDep, campaign_id: CampaignId) -> Response:
    """The closing report as one HTML page (the same bytes as the API's)."""
    html = report.render_html(report.campaign_report(services(request), ctx.operator, campaign_id))
    headers = {**page_headers(request), "Content-Security-Policy": REPORT_CSP}
    return HTMLResponse(html, headers=headers)


def _refused(
    request: Request, ctx: ConsoleContext, campaign_id: str, exc: DomainError
) -> HTMLResponse:
    return _detail_response(request, ctx, campaign_id, **refusal(exc, in_words(exc)))


def _detail_response(
    request: Request,
    ctx: ConsoleContext,
    campaign_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    detail = campaign_detail(services(request), ctx.operator, campaign_id)
    return render(
        request,
        "console/campaigns/campaign.html",
        status_code=status_code,
        **page_context(request, ctx, f"Campaign {detail.campaign.id}"),
        detail=detail,
        campaign=detail.campaign,
        counts=detail.counts,
        notice=_notice(notice),
        error=error,
        error_id=error_id,
    )


def _list_response(
    request: Request,
    ctx: ConsoleContext,
    *,
    notice: str | None = None,
    error: str | None = None,
    error_id: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    svc: Services = services(request)
    operator: Operator = ctx.operator
    lines = campaigns_page(svc, operator)
    return render(
        request,
        "console/campaigns/list.html",
        status_code=status_code,
        **page_context(request, ctx, "Campaigns"),
        lines=lines,
        actions=ACTIONS,
        may_start=may_start(operator),
        notice=_notice(notice),
        error=error,
        error_id=error_id,
        form=form or EMPTY_FORM,
    )
