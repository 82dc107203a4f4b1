"""Incident campaigns (docs/campaigns.md): start one over a group, approve it
(once for all its subjects, by two people who are not the starter: the
starter's own approval is `campaign_self_approval`), pause, resume, cancel,
read its progress and its closing report (JSON, or HTML). A campaign outside
the operator's scope answers 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import RequestBody
from custos.service.campaigns import commands, queries, report
from custos.service.campaigns.queries import Progress

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])

CampaignId = Annotated[str, Path(min_length=1, max_length=64)]


class StartCampaignIn(RequestBody):
    group: str = Field(min_length=1, max_length=200, description="Every member is contained.")
    action: str = Field(
        min_length=1, max_length=30, description="`force-reset`, `revoke-sessions` or `reissue`."
    )
    reason: str = Field(min_length=1, max_length=2000)
    ticket: str = Field(min_length=1, max_length=100, description="The incident's ticket.")


class ReasonIn(RequestBody):
    reason: str = Field(min_length=1, max_length=2000)


class CampaignOut(BaseModel):
    id: str
    group: str
    action: str
    #: ``awaiting_approval``, ``running``, ``paused``, ``cancelled`` or ``finished``.
    state: str
    reason: str
    ticket: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    approvals: list[str]
    required_approvals: int
    subjects: int
    #: Members without a case yet.
    pending: int
    #: Members a cancellation skipped.
    skipped: int
    #: Members whose case is settled (completed, needs_attention, ...).
    settled: int
    completed: int
    #: Case state -> how many of the campaign's cases stand in it.
    cases: dict[str, int]


class CampaignList(BaseModel):
    campaigns: list[CampaignOut]


def _out(p: Progress) -> CampaignOut:
    c = p.campaign
    return CampaignOut(
        id=c.id,
        group=c.group,
        action=str(c.action),
        state=str(c.state),
        reason=c.reason,
        ticket=c.ticket,
        started_by=c.started_by,
        started_at=c.started_at,
        finished_at=c.finished_at,
        approvals=[a.person for a in c.approvals],
        required_approvals=c.required_approvals,
        subjects=p.subjects,
        pending=p.pending,
        skipped=p.skipped,
        settled=p.settled,
        completed=p.completed,
        cases=p.cases,
    )


@router.post("", status_code=201, response_model=CampaignOut)
def start_campaign(body: StartCampaignIn, svc: ServicesDep, operator: OperatorDep) -> CampaignOut:
    """Start a campaign over every member of `group`; it waits for its approvals."""
    campaign, _ = commands.start(
        svc, operator, group=body.group, action=body.action, reason=body.reason, ticket=body.ticket
    )
    return _out(queries.progress(svc, operator, campaign.id))


@router.get("", response_model=CampaignList)
def list_campaigns(svc: ServicesDep, operator: OperatorDep) -> CampaignList:
    """Campaigns in the operator's scope, newest first."""
    return CampaignList(
        campaigns=[
            _out(queries.progress(svc, operator, c.id)) for c in queries.listing(svc, operator)
        ]
    )


@router.get("/{campaign_id}", response_model=CampaignOut)
def show_campaign(campaign_id: CampaignId, svc: ServicesDep, operator: OperatorDep) -> CampaignOut:
    return _out(queries.progress(svc, operator, campaign_id))


@router.post("/{campaign_id}/approve", response_model=CampaignOut)
def approve_campaign(
    campaign_id: CampaignId, body: ReasonIn, svc: ServicesDep, operator: OperatorDep
) -> CampaignOut:
    """One approval, for every subject of the campaign; the quorum starts it."""
    commands.approve(svc, operator, campaign_id, reason=body.reason)
    return _out(queries.progress(svc, operator, campaign_id))


@router.post("/{campaign_id}/pause", response_model=CampaignOut)
def pause_campaign(
    campaign_id: CampaignId, body: ReasonIn, svc: ServicesDep, operator: OperatorDep
) -> CampaignOut:
    commands.pause(svc, operator, campaign_id, reason=body.reason)
    return _out(queries.progress(svc, operator, campaign_id))


@router.post("/{campaign_id}/resume", response_model=CampaignOut)
def resume_campaign(
    campaign_id: CampaignId, body: ReasonIn, svc: ServicesDep, operator: OperatorDep
) -> CampaignOut:
    commands.resume(svc, operator, campaign_id, reason=body.reason)
    return _out(queries.progress(svc, operator, campaign_id))


@router.post("/{campaign_id}/cancel", response_model=CampaignOut)
def cancel_campaign(
    campaign_id: CampaignId, body: ReasonIn, svc: ServicesDep, operator: OperatorDep
) -> CampaignOut:
    """Members without a case are skipped; opened cases finish as they are."""
    commands.cancel(svc, operator, campaign_id, reason=body.reason)
    return _out(queries.progress(svc, operator, campaign_id))


@router.get("/{campaign_id}/report")
def campaign_report(
    campaign_id: CampaignId, svc: ServicesDep, operator: OperatorDep
) -> dict[str, Any]:
    """The closing report: every subject, its case, and per system its receipt."""
    return report.campaign_report(svc, operator, campaign_id)


@router.get("/{campaign_id}/report.html", response_class=HTMLResponse)
def campaign_report_html(
    campaign_id: CampaignId, svc: ServicesDep, operator: OperatorDep
) -> HTMLResponse:
    """The closing report as one HTML page."""
    return HTMLResponse(report.render_html(report.campaign_report(svc, operator, campaign_id)))
