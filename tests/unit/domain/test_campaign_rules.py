"""Incident campaign rules (docs/campaigns.md): approved once by a quorum of
distinct people, never by the starter (R-32, R-33); approvers from the
policy's groups; only the legal moves of a campaign's state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custos.domain.campaigns import Campaign, CampaignAction, CampaignState
from custos.domain.errors import CampaignNotActive, CampaignSelfApproval, NotAuthorized
from custos.domain.events import EventType
from custos.domain.identities import CredentialAction, Operator, Role

NOW = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)


def person(name: str, *roles: Role, groups: tuple[str, ...] = ("security-approvers",)) -> Operator:
    return Operator(
        id=f"op-{name}",
        name=name,
        person=name,
        roles=frozenset(roles or (Role.APPROVER,)),
        scope=frozenset({"*"}),
        groups=frozenset(groups),
    )


def campaign() -> Campaign:
    return Campaign(
        id="campaign-1",
        group="incident-7",
        action=CampaignAction.FORCE_RESET,
        reason="phished",
        ticket="INC-7",
        state=CampaignState.AWAITING_APPROVAL,
        started_by="operator:op-hana",
        started_by_person="hana",
        started_at=NOW,
        updated_at=NOW,
        required_approvals=2,
        approver_groups=frozenset({"security-approvers"}),
    )


def test_campaign_approval_by_the_starter_is_refused() -> None:
    """R-32: the starter cannot approve, even holding the approver role."""
    c = campaign()
    with pytest.raises(CampaignSelfApproval) as refused:
        c.approve(person("hana", Role.REQUESTER, Role.APPROVER), at=NOW, reason="mine")
    assert refused.value.details["rule"] == "starter"
    assert c.approvals == [] and c.state == CampaignState.AWAITING_APPROVAL


def test_campaign_one_person_counts_once_and_two_start_it() -> None:
    """R-33: one person approving twice is refused; two distinct people start it."""
    c = campaign()
    assert c.approve(person("ada"), at=NOW, reason="ok") is False
    with pytest.raises(CampaignSelfApproval):
        c.approve(person("ada"), at=NOW, reason="again")
    assert c.approve(person("grace"), at=NOW, reason="ok") is True
    assert c.state == CampaignState.RUNNING
    assert [e.type for e in c.pending_events] == [EventType.CAMPAIGN_APPROVED] * 2


def test_campaign_approver_outside_groups_or_role_is_refused() -> None:
    c = campaign()
    with pytest.raises(NotAuthorized):
        c.approve(person("linus", groups=()), at=NOW, reason="ok")
    with pytest.raises(NotAuthorized):
        c.approve(person("rita", Role.REQUESTER), at=NOW, reason="ok")


def test_campaign_moves_only_along_its_states() -> None:
    c = campaign()
    with pytest.raises(CampaignNotActive):
        c.move(CampaignState.PAUSED, at=NOW)  # not running yet
    c.move(CampaignState.CANCELLED, at=NOW)
    assert c.finished_at == NOW
    with pytest.raises(CampaignNotActive):
        c.move(CampaignState.RUNNING, at=NOW)
    with pytest.raises(CampaignNotActive):
        c.approve(person("ada"), at=NOW, reason="late")


def test_campaign_resume_applies_to_a_paused_campaign_only() -> None:
    """R-32: a campaign awaiting its approvals is never run by a resume."""
    c = campaign()
    with pytest.raises(CampaignNotActive):
        c.resume(at=NOW)
    assert c.state == CampaignState.AWAITING_APPROVAL
    c.approve(person("ada"), at=NOW, reason="ok")
    c.approve(person("grace"), at=NOW, reason="ok")
    with pytest.raises(CampaignNotActive):
        c.resume(at=NOW)  # running already
    c.move(CampaignState.PAUSED, at=NOW)
    c.resume(at=NOW)
    assert c.state == CampaignState.RUNNING


def test_campaign_actions_map_to_credential_actions() -> None:
    assert [a.credential_action for a in CampaignAction] == [
        CredentialAction.FORCE_RESET,
        CredentialAction.REVOKE_SESSIONS,
        CredentialAction.REISSUE,
    ]
