"""Operator anomaly alerts in the console (docs/oversight.md), under Audit:
the open alerts with the ledger entries that show them, for admins and
auditors (any other role: 403, recorded as a refusal). Read only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from custos.service.oversight.anomalies import alerts_for_reader, describe
from custos.web.console.session import ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

ALERTS_PAGE = "/console/audit/alerts"


@router.get(ALERTS_PAGE, response_class=HTMLResponse)
def alerts_list(
    request: Request,
    ctx: ConsoleDep,
    operator: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    wanted = operator.strip() or None
    alerts = alerts_for_reader(services(request), ctx.operator, operator=wanted)
    return render(
        request,
        "console/audit/alerts.html",
        **page_context(request, ctx, "Operator alerts"),
        alerts=describe(alerts),
        wanted=wanted or "",
    )
