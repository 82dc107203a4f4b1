"""Incident campaign rules (docs/campaigns.md): approved once by a quorum of
distinct people, never by the starter (R-32, R-33); approvers from the
policy's groups; only the legal moves of a campaign's state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from state_now import state_now

from custos.domain.campaigns import (
    Campaign,
    CampaignAction,
    CampaignApproval,
    CampaignState,
    check_text,
)
from custos.domain.errors import (
    CampaignNotActive,
    CampaignSelfApproval,
    DomainError,
    InvalidInput,
    NotAuthorized,
)
from custos.domain.events import EventType, Outcome
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
    assert state_now(c) == CampaignState.RUNNING


def test_campaign_actions_map_to_credential_actions() -> None:
    assert [a.credential_action for a in CampaignAction] == [
        CredentialAction.FORCE_RESET,
        CredentialAction.REVOKE_SESSIONS,
        CredentialAction.REISSUE,
    ]


def test_campaign_event_carries_the_campaign_and_its_own_fields() -> None:
    """R-35: every campaign event names its time, actor, outcome, reason and the
    campaign (id, group, action, ticket) beside the data it adds; no subject
    and no case (it is about the whole group)."""
    c = campaign()
    later = NOW.replace(hour=15)
    plain = c.emit(EventType.CAMPAIGN_PAUSED, at=later, actor="operator:op-ada")
    assert plain.canonical() == {
        "type": "oversight:campaign:paused",
        "time": "2026-12-06T15:00:00.000000Z",
        "source": "custos",
        "actor": "operator:op-ada",
        "subject": None,
        "case": None,
        "outcome": "success",
        "reason": "",
        "data": {
            "campaign": "campaign-1",
            "group": "incident-7",
            "action": "force-reset",
            "ticket": "INC-7",
        },
    }
    refused = c.emit(
        EventType.CAMPAIGN_APPROVAL_REFUSED,
        at=NOW,
        actor="operator:op-hana",
        reason="the starter approves",
        outcome=Outcome.DENIED,
        rule="starter",
    )
    assert (refused.outcome, refused.reason) == (Outcome.DENIED, "the starter approves")
    assert refused.data == {
        "campaign": "campaign-1",
        "group": "incident-7",
        "action": "force-reset",
        "ticket": "INC-7",
        "rule": "starter",
    }
    assert c.pending_events == [plain, refused]


def test_campaign_approval_event_counts_distinct_approvers() -> None:
    """R-33: the approval event says who approved, why, and how far the quorum is."""
    c = campaign()
    c.approve(person("ada"), at=NOW, reason="seen the incident")
    (event,) = c.pending_events
    assert (event.type, event.actor, event.reason, event.occurred_at) == (
        EventType.CAMPAIGN_APPROVED,
        "operator:op-ada",
        "seen the incident",
        NOW,
    )
    assert event.data["approvals"] == 1 and event.data["required"] == 2
    assert c.approvals == [CampaignApproval("op-ada", "ada", NOW, "seen the incident")]


def test_campaign_resume_refusal_names_the_campaign_and_its_state() -> None:
    c = campaign()
    with pytest.raises(CampaignNotActive) as refused:
        c.resume(at=NOW)
    assert refused.value.message == (
        "campaign campaign-1 is awaiting_approval, not paused: nothing to resume"
    )
    assert refused.value.details == {"campaign": "campaign-1", "state": "awaiting_approval"}


def test_campaign_resume_and_moves_record_their_time() -> None:
    c = campaign()
    c.approve(person("ada"), at=NOW, reason="ok")
    approved = NOW.replace(hour=15)
    c.approve(person("grace"), at=approved, reason="ok")
    assert (c.state, c.updated_at, c.finished_at) == (CampaignState.RUNNING, approved, None)
    paused = NOW.replace(hour=16)
    c.move(CampaignState.PAUSED, at=paused)
    assert (c.updated_at, c.finished_at) == (paused, None)
    resumed = NOW.replace(hour=17)
    c.resume(at=resumed)
    assert (c.state, c.updated_at) == (CampaignState.RUNNING, resumed)
    done = NOW.replace(hour=18)
    c.move(CampaignState.FINISHED, at=done)
    assert (c.updated_at, c.finished_at) == (done, done)


def test_campaign_move_refusal_names_the_campaign_and_its_state() -> None:
    c = campaign()
    with pytest.raises(CampaignNotActive) as refused:
        c.move(CampaignState.FINISHED, at=NOW)
    assert refused.value.message == (
        "campaign campaign-1 is awaiting_approval; it cannot become finished"
    )
    assert refused.value.details == {"campaign": "campaign-1", "state": "awaiting_approval"}
    assert (c.state, c.updated_at) == (CampaignState.AWAITING_APPROVAL, NOW)


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("  INC-7 \n", 2000, "INC-7"),
        ("x" * 2000, 2000, "x" * 2000),
        ("  " + "x" * 5 + "  ", 5, "xxxxx"),
    ],
)
def test_campaign_text_is_stripped_and_kept_up_to_its_limit(
    value: str, limit: int, expected: str
) -> None:
    assert check_text(value, what="a ticket", limit=limit) == expected


def test_campaign_text_default_limit_is_2000_characters() -> None:
    assert check_text("x" * 2000, what="a reason") == "x" * 2000
    with pytest.raises(InvalidInput) as refused:
        check_text("x" * 2001, what="a reason")
    assert refused.value.message == "a reason is longer than 2000 characters"


@pytest.mark.parametrize("value", ["", "   ", "\n\t"])
def test_campaign_text_empty_or_blank_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_text(value, what="a ticket")
    assert refused.value.message == "a campaign needs a ticket"


def test_campaign_text_over_its_limit_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_text("x" * 6, what="a ticket", limit=5)
    assert refused.value.message == "a ticket is longer than 5 characters"


def test_campaign_approval_refusals_say_why() -> None:
    """R-32, R-33: each refusal of a campaign approval, its words and its rule."""
    c = campaign()
    c.approver_groups = frozenset({"soc", "security-approvers"})
    c.approve(person("ada"), at=NOW, reason="ok")
    refusals: list[tuple[Operator, type[DomainError], str, dict[str, object]]] = [
        (
            person("hana"),
            CampaignSelfApproval,
            "the starter of a campaign cannot approve it (R-32)",
            {"rule": "starter"},
        ),
        (
            person("ada"),
            CampaignSelfApproval,
            "this person has already approved the campaign; one person counts once (R-33)",
            {"rule": "already_approved"},
        ),
        (
            person("linus", groups=("helpdesk",)),
            NotAuthorized,
            "campaign approvals must come from: security-approvers, soc",
            {"rule": "approver_groups"},
        ),
    ]
    for operator, error, message, details in refusals:
        with pytest.raises(error) as refused:
            c.check_approver(operator)
        assert (refused.value.message, refused.value.details) == (message, details)
    c.move(CampaignState.CANCELLED, at=NOW)
    with pytest.raises(CampaignNotActive) as closed:
        c.check_approver(person("grace"))
    assert (
        closed.value.message == "campaign campaign-1 is not awaiting approval (state 'cancelled')"
    )
    assert closed.value.details == {"campaign": "campaign-1", "state": "cancelled"}


#: The legal moves of a campaign, stated here by name (docs/campaigns.md), not
#: read from campaigns.MOVES: editing the table alone cannot pass.
CAMPAIGN_MOVES_BY_NAME = {
    ("awaiting_approval", "running"),
    ("awaiting_approval", "cancelled"),
    ("running", "paused"),
    ("running", "cancelled"),
    ("running", "finished"),
    ("paused", "running"),
    ("paused", "cancelled"),
}


@pytest.mark.parametrize("current", list(CampaignState))
@pytest.mark.parametrize("target", list(CampaignState))
def test_campaign_moves_are_exactly_the_named_ones(
    current: CampaignState, target: CampaignState
) -> None:
    """R-32: a campaign never finishes unless running (not paused, not awaiting
    its approvals), and a cancelled or finished campaign never runs again."""
    c = campaign()
    c.state = current
    if (str(current), str(target)) in CAMPAIGN_MOVES_BY_NAME:
        c.move(target, at=NOW)
        assert c.state == target
    else:
        with pytest.raises(CampaignNotActive):
            c.move(target, at=NOW)
        assert c.state == current
