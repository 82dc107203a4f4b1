"""Starting, approving, pausing, resuming and cancelling an incident campaign.
Each command is one transaction: the campaign's row, its members and its
ledger event commit together (STYLE 2). Separation of duties is checked here
through ``domain/campaigns.py`` whatever face the command came from; a refused
approval is itself a ledger event (R-36)."""

from __future__ import annotations

import secrets
from datetime import datetime

from custos.domain import sod
from custos.domain.campaigns import (
    Campaign,
    CampaignAction,
    CampaignState,
    check_text,
)
from custos.domain.errors import DomainError, InvalidInput, OutOfScope
from custos.domain.events import EventType, Outcome
from custos.domain.model import Operator, Role
from custos.service.campaigns.alerts import alert
from custos.service.campaigns.queries import in_scope
from custos.service.ports import Services
from custos.service.recovery.cases import ticket_reference

MAX_GROUP = 200


def new_campaign_id(now: datetime) -> str:
    return f"campaign-{now.strftime('%Y%m%d')}-{secrets.token_hex(4)}"


def start(
    svc: Services,
    operator: Operator,
    *,
    group: str,
    action: str,
    reason: str,
    ticket: str,
) -> tuple[Campaign, int]:
    """Start a campaign over every subject in ``group``: it waits for its
    approvals. Returns the campaign and its number of members. Raises
    NotAuthorized (not a requester), OutOfScope (the group is outside the
    starter's scope), InvalidInput (unknown action, no reason or ticket, an
    empty group)."""
    sod.check_role(operator, Role.REQUESTER)
    group = check_text(group, what="a group", limit=MAX_GROUP)
    reason = check_text(reason, what="a reason")
    ref = ticket_reference(ticket)
    if ref is None:
        raise InvalidInput("a campaign needs the ticket of the incident it contains")
    try:
        chosen = CampaignAction(action)
    except ValueError:
        raise InvalidInput(
            f"unknown campaign action '{action[:40]}'",
            known=[str(a) for a in CampaignAction],
        ) from None
    if not operator.covers_groups(frozenset({group})):
        raise OutOfScope(
            f"group '{group}' is outside the scope of operator '{operator.name}'", group=group
        )
    section = svc.policy.document.campaigns
    now = svc.clock.now()
    with svc.uow() as uow:
        groups = uow.subjects.groups_of(uow.subjects.list_ids())
        members = sorted(s for s, g in groups.items() if group in g)
        if not members:
            raise InvalidInput(f"no subject is a member of group '{group}'", group=group)
        campaign = Campaign(
            id=new_campaign_id(now),
            group=group,
            action=chosen,
            reason=reason,
            ticket=ref,
            state=CampaignState.AWAITING_APPROVAL,
            started_by=operator.actor,
            started_by_person=operator.person,
            started_at=now,
            updated_at=now,
            required_approvals=section.approvals.count,
            approver_groups=frozenset(section.approvals.from_groups),
        )
        uow.campaigns.add(campaign, members)
        campaign.emit(
            EventType.CAMPAIGN_STARTED,
            at=now,
            actor=operator.actor,
            reason=reason,
            subjects=len(members),
            required_approvals=campaign.required_approvals,
            policy_hash=svc.policy.hash,
        )
        uow.ledger.append(campaign.pending_events)
        alert(svc, uow, campaign, EventType.CAMPAIGN_STARTED, subjects=len(members))
        uow.commit()
    return campaign, len(members)


def approve(svc: Services, operator: Operator, campaign_id: str, *, reason: str) -> Campaign:
    """One approval of a campaign awaiting them; the quorum starts it. A
    refused approval is recorded (``oversight:campaign:approval_refused``)
    and re-raised: NotAuthorized, CampaignSelfApproval, CampaignNotActive."""
    reason = check_text(reason, what="a reason for the approval")
    now = svc.clock.now()
    with svc.uow() as uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        in_scope(operator, campaign)
        try:
            started = campaign.approve(operator, at=now, reason=reason)
        except DomainError as exc:
            campaign.pending_events.clear()
            campaign.emit(
                EventType.CAMPAIGN_APPROVAL_REFUSED,
                at=now,
                actor=operator.actor,
                outcome=Outcome.DENIED,
                reason=exc.message,
                rule=str(exc.details.get("rule", exc.error_id)),
            )
            uow.ledger.append(campaign.pending_events)
            uow.commit()
            raise
        uow.campaigns.save(campaign)
        uow.ledger.append(campaign.pending_events)
        if started:
            alert(svc, uow, campaign, EventType.CAMPAIGN_APPROVED)
        uow.commit()
    return campaign


def _transition(
    svc: Services,
    operator: Operator,
    campaign_id: str,
    *,
    target: CampaignState,
    event: EventType,
    reason: str,
) -> tuple[Campaign, int]:
    reason = check_text(reason, what="a reason")
    sod.check_role(operator, Role.REQUESTER)
    now = svc.clock.now()
    with svc.uow() as uow:
        # The row lock waits for a batch in flight: once this commits, no new
        # case opens for a paused or cancelled campaign.
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        in_scope(operator, campaign)
        if target == CampaignState.RUNNING:
            campaign.resume(at=now)
        else:
            campaign.move(target, at=now)
        skipped = (
            uow.campaigns.skip_pending(campaign.id) if target == CampaignState.CANCELLED else 0
        )
        campaign.emit(event, at=now, actor=operator.actor, reason=reason, skipped=skipped)
        uow.campaigns.save(campaign)
        uow.ledger.append(campaign.pending_events)
        alert(svc, uow, campaign, event, skipped=skipped)
        uow.commit()
    return campaign, skipped


def pause(svc: Services, operator: Operator, campaign_id: str, *, reason: str) -> Campaign:
    """Stop opening cases until resumed (cases already opened finish)."""
    return _transition(
        svc,
        operator,
        campaign_id,
        target=CampaignState.PAUSED,
        event=EventType.CAMPAIGN_PAUSED,
        reason=reason,
    )[0]


def resume(svc: Services, operator: Operator, campaign_id: str, *, reason: str) -> Campaign:
    return _transition(
        svc,
        operator,
        campaign_id,
        target=CampaignState.RUNNING,
        event=EventType.CAMPAIGN_RESUMED,
        reason=reason,
    )[0]


def cancel(
    svc: Services, operator: Operator, campaign_id: str, *, reason: str
) -> tuple[Campaign, int]:
    """Cancel: members without a case are skipped (returned: how many); cases
    already opened are being propagated and finish as they are."""
    return _transition(
        svc,
        operator,
        campaign_id,
        target=CampaignState.CANCELLED,
        event=EventType.CAMPAIGN_CANCELLED,
        reason=reason,
    )
