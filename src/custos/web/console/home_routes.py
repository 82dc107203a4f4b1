"""The console's start page (who you are, what waits for you) and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from custos.service.console import sessions
from custos.service.console.overview import waiting_for
from custos.web.console.session import (
    CheckedDep,
    ConsoleDep,
    end_session_response,
    page_context,
    services,
    session_token,
)
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    svc = services(request)
    return render(
        request,
        "console/home.html",
        **page_context(request, ctx, "Start"),
        overview=waiting_for(svc, ctx.operator),
        roles=sorted(str(r) for r in ctx.operator.roles),
        scope=sorted(ctx.operator.scope),
        session=ctx.session,
        idle_minutes=svc.settings.console.idle_minutes,
    )


@router.post("/console/sign-out")
def sign_out(request: Request, ctx: CheckedDep) -> RedirectResponse:
    sessions.sign_out(services(request), session_token(request))
    return end_session_response(request, "/console/sign-in?signed_out=1")


@router.post("/console/sign-out-everywhere")
def sign_out_everywhere(request: Request, ctx: CheckedDep) -> RedirectResponse:
    sessions.sign_out_everywhere(services(request), ctx.operator)
    return end_session_response(request, "/console/sign-in?signed_out=1")
