"""Auditors' pages (docs/console.md#audit): a case's timeline, its evidence pack
exported and verified on the spot, the ledger's state, and the compliance
report for a chosen period. Cases outside the auditor's scope answer 404 as in
the API; everything is read through the service layer."""

from __future__ import annotations

import base64
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.ledger.proofs import require_ledger_reader
from custos.reports.compliance import render_html, summary_rows
from custos.service.console.case_list import cases_in_scope
from custos.service.console.case_timeline import case_timeline
from custos.service.console.compliance_report import (
    compliance_report,
    report_period,
    require_report_reader,
)
from custos.service.console.evidence_check import export_checked
from custos.service.console.ledger_overview import ledger_overview
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import page_headers, render

router = APIRouter(include_in_schema=False)

CaseId = Annotated[str, Path(min_length=1, max_length=100)]
Day = Annotated[str | None, Query(max_length=10)]
#: How many recent cases the audit start page lists.
RECENT = 20


@router.get("/console/audit", response_model=None)
def audit_home(
    request: Request,
    ctx: ConsoleDep,
    case: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    require_ledger_reader(ctx.operator)
    if case and case.strip():
        target = "/console/audit/cases/" + quote(case.strip(), safe="")
        return RedirectResponse(target, status_code=303)
    return render(
        request,
        "console/audit/home.html",
        **page_context(request, ctx, "Audit"),
        cases=cases_in_scope(services(request), ctx.operator, limit=RECENT),
        can_report="*" in ctx.operator.scope,
    )


@router.get("/console/audit/cases/{case_id}", response_class=HTMLResponse)
def timeline(request: Request, ctx: ConsoleDep, case_id: CaseId) -> HTMLResponse:
    story = case_timeline(services(request), ctx.operator, case_id)
    return render(
        request,
        "console/audit/timeline.html",
        **page_context(request, ctx, f"Timeline of {story.detail['id']}"),
        t=story,
        d=story.detail,
    )


@router.post("/console/audit/cases/{case_id}/evidence", response_class=HTMLResponse)
def evidence(request: Request, ctx: CheckedDep, case_id: CaseId) -> HTMLResponse:
    """Export the pack (recorded in the ledger, as the API's POST), verify the
    bytes, and offer exactly those bytes for download beside the result."""
    pack = export_checked(services(request), ctx.operator, case_id)
    return render(
        request,
        "console/audit/evidence.html",
        **page_context(request, ctx, f"Evidence pack of {case_id}"),
        p=pack,
        href="data:application/zip;base64," + base64.b64encode(pack.data).decode("ascii"),
    )


@router.get("/console/audit/ledger", response_class=HTMLResponse)
def ledger_status(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    return render(
        request,
        "console/audit/ledger.html",
        **page_context(request, ctx, "Ledger"),
        o=ledger_overview(services(request), ctx.operator),
    )


@router.get("/console/audit/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    ctx: ConsoleDep,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> HTMLResponse:
    """The period form (the last 30 days by default); with a period, the report's
    summary and controls, and its HTML and PDF for download."""
    svc = services(request)
    require_report_reader(ctx.operator)
    asked = first is not None or last is not None
    built = compliance_report(svc, ctx.operator, first=first, last=last) if asked else None
    start, end = (built.first, built.last) if built else report_period(svc, None, None)
    return render(
        request,
        "console/audit/report.html",
        **page_context(request, ctx, "Compliance report"),
        r=built,
        rows=summary_rows(built.report) if built else [],
        first=start.isoformat(),
        last=end.isoformat(),
    )


@router.get("/console/audit/report/compliance.html")
def report_html(
    request: Request,
    ctx: ConsoleDep,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    built = compliance_report(services(request), ctx.operator, first=first, last=last)
    name = f"compliance-{built.first}-{built.last}.html"
    return _download(request, render_html(built.report).encode("utf-8"), name, "text/html")


@router.get("/console/audit/report/compliance.pdf")
def report_pdf(
    request: Request,
    ctx: ConsoleDep,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    from custos.reports.pdf import render_pdf

    built = compliance_report(services(request), ctx.operator, first=first, last=last)
    name = f"compliance-{built.first}-{built.last}.pdf"
    return _download(request, render_pdf(built.report), name, "application/pdf")


def _download(request: Request, data: bytes, name: str, media_type: str) -> Response:
    """A file to save, never rendered by the console's origin (the HTML report
    carries its own inline style, which the console's CSP forbids)."""
    headers = {
        **page_headers(request),
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(data, media_type=media_type, headers=headers)
