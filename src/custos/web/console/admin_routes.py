"""The administration pages (docs/console.md#administration), for the admin role
only: the active policy and its file checked as ``custos policy check`` checks
it, the connected targets with a connection test. Read-only but for the test,
which changes nothing on the target."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from custos.service.console.administration import require_admin
from custos.service.console.connector_probe import ProbeRun, probe_target
from custos.service.console.connector_summary import target_summaries
from custos.service.console.policy_status import policy_status
from custos.service.console.policy_summary import defaults, holds, risk_bands, summarize
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

TargetName = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/console/admin", response_class=HTMLResponse)
def admin_home(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    return render(
        request, "console/admin/index.html", **page_context(request, ctx, "Administration")
    )


@router.get("/console/admin/policy", response_class=HTMLResponse)
def policy_page(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    svc = services(request)
    document = svc.policy.document
    return render(
        request,
        "console/admin/policy.html",
        **page_context(request, ctx, "Recovery policy"),
        status=policy_status(svc),
        tiers=summarize(document, svc.registry.capability_map()),
        bands=risk_bands(document),
        defaults=defaults(document),
        holds=holds(document),
    )


@router.get("/console/admin/connectors", response_class=HTMLResponse)
def connectors_page(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    return _connectors(request, ctx, runs={})


@router.post("/console/admin/connectors/{name}/test", response_class=HTMLResponse)
def test_connector(request: Request, ctx: CheckedDep, name: TargetName) -> HTMLResponse:
    """htmx swaps the answer into the target's result region; a browser without
    script gets the whole page with the result in place."""
    require_admin(ctx.operator)
    run = probe_target(services(request), ctx.operator, name)
    if request.headers.get("hx-request"):
        return render(request, "console/admin/_probe.html", run=run)
    return _connectors(request, ctx, runs={name: run})


def _connectors(request: Request, ctx: ConsoleDep, *, runs: dict[str, ProbeRun]) -> HTMLResponse:
    return render(
        request,
        "console/admin/connectors.html",
        **page_context(request, ctx, "Connected systems"),
        targets=target_summaries(services(request)),
        runs=runs,
    )
