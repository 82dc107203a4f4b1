"""The list of cases in the operator's scope, filtered by state and subject
(docs/console.md#cases). Rows lead to the case's page and, for approvers and
auditors, to the decision and the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.ledger.proofs import LEDGER_READERS
from custos.service.console.case_list import cases_in_scope
from custos.web.console.session import ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/console/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    ctx: ConsoleDep,
    state: Annotated[str | None, Query(max_length=40)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    subject = (subject or "").strip()
    rows = cases_in_scope(services(request), ctx.operator, state=state, subject_id=subject)
    return render(
        request,
        "console/cases/list.html",
        **page_context(request, ctx, "Cases"),
        cases=rows,
        states=[str(s) for s in CaseState],
        state=state or "",
        subject=subject,
        can_approve=ctx.operator.has_role(Role.APPROVER),
        can_audit=bool(ctx.operator.roles & LEDGER_READERS),
    )
