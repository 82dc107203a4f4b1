"""Incident campaigns against a real slapd and the built-in directory, on
SQLite and PostgreSQL: approved once by two people who are not the starter
(R-32, R-33), one case per member in every system, a closing report of
every subject and system, ledger events for each change (R-36), pause,
resume and cancel, and an interrupted run that resumes with each subject
done exactly once."""

from __future__ import annotations

import json

import pytest
from campaign_world import (  # the fixture ``cw``
    CampaignWorld,
    campaign_world_on_each_backend,  # noqa: F401
)
from sqlalchemy import func, select

from custos.domain.campaigns import CampaignState
from custos.domain.errors import CampaignSelfApproval, NotAuthorized
from custos.domain.events import EventType
from custos.domain.states import CaseState
from custos.ledger.audit import verify
from custos.service.campaigns import commands, execution, queries, report
from custos.store.tables import campaign_members, cases, ledger


def _campaign_events(cw: CampaignWorld, campaign_id: str) -> list[dict[str, object]]:
    with cw.world.svc.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            select(ledger.c.canonical)
            .where(ledger.c.type.like("oversight:campaign:%"))
            .order_by(ledger.c.leaf_index)
        )
        entries = [json.loads(r.canonical) for r in rows]
    return [
        {"type": e["type"], "actor": e["actor"], **e["data"]}
        for e in entries
        if e["data"].get("campaign") == campaign_id
    ]


def _cases_per_subject(cw: CampaignWorld, members: list[str]) -> dict[str, int]:
    with cw.world.svc.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            select(cases.c.subject_id, func.count())
            .where(cases.c.subject_id.in_(members), cases.c.channel == "campaign")
            .group_by(cases.c.subject_id)
        )
        found = {s: n for s, n in rows.all()}
    return {m: found.get(m, 0) for m in members}


def test_campaign_approval_by_starter_is_refused_and_recorded(cw: CampaignWorld) -> None:
    """R-32: the starter's own approval is refused (and recorded, R-36); one
    approval leaves the campaign waiting; a second person starts it."""
    cw.members(3)
    campaign = cw.started()
    with pytest.raises(CampaignSelfApproval) as refused:
        commands.approve(cw.world.svc, cw.starter, campaign.id, reason="mine")
    assert refused.value.details["rule"] == "starter"
    with pytest.raises(NotAuthorized):
        commands.approve(cw.world.svc, cw.approver("carol"), campaign.id, reason="not security")
    once = commands.approve(cw.world.svc, cw.approver("alice"), campaign.id, reason="contain")
    assert once.state == CampaignState.AWAITING_APPROVAL
    with pytest.raises(CampaignSelfApproval):
        commands.approve(cw.world.svc, cw.approver("alice"), campaign.id, reason="again")
    assert execution.run_campaigns(cw.world.svc) == 0  # nothing runs before the quorum
    twice = commands.approve(cw.world.svc, cw.approver("bob"), campaign.id, reason="agree")
    assert twice.state == CampaignState.RUNNING
    types = [e["type"] for e in _campaign_events(cw, campaign.id)]
    assert types == [
        EventType.CAMPAIGN_STARTED,
        EventType.CAMPAIGN_APPROVAL_REFUSED,
        EventType.CAMPAIGN_APPROVAL_REFUSED,
        EventType.CAMPAIGN_APPROVED,
        EventType.CAMPAIGN_APPROVAL_REFUSED,
        EventType.CAMPAIGN_APPROVED,
    ]


def test_campaign_contains_every_member_in_every_system_and_reports_it(
    cw: CampaignWorld,
) -> None:
    """A force-reset campaign: one case per member, completed; the old slapd
    password stops working; the report (JSON and HTML) lists every subject
    and both systems with their receipts; started/approved/finished events."""
    members = cw.members(12)
    outsider = cw.members(1, group="elsewhere")[0]
    campaign = cw.approved()
    cw.world.drain(passes=60)
    progress = queries.progress(cw.world.svc, cw.starter, campaign.id)
    assert progress.campaign.state == CampaignState.FINISHED
    assert progress.completed == len(members)
    assert _cases_per_subject(cw, members) == {m: 1 for m in members}
    assert _cases_per_subject(cw, [outsider]) == {outsider: 0}
    for uid in members:
        assert not cw.slapd.can_bind(cw.slapd_dn(uid), cw.old_passwords[uid])
    assert cw.slapd.can_bind(cw.slapd_dn(outsider), cw.old_passwords[outsider])
    data = report.campaign_report(cw.world.svc, cw.approver("alice"), campaign.id)
    assert [s["subject"] for s in data["subjects"]] == members
    for item in data["subjects"]:
        assert item["case_state"] == "completed"
        assert sorted((r["target"], r["state"]) for r in item["systems"]) == [
            ("directory", "succeeded"),
            ("ldap", "succeeded"),
        ]
    assert data["totals"]["systems"] == {
        "directory": {"succeeded": 12},
        "ldap": {"succeeded": 12},
    }
    json.dumps(data)  # plain JSON all through
    page = report.render_html(data)
    for uid in members:
        assert uid in page
    assert "<td>ldap</td>" in page and "<td>directory</td>" in page
    types = [e["type"] for e in _campaign_events(cw, campaign.id)]
    assert types[0] == EventType.CAMPAIGN_STARTED and types[-1] == EventType.CAMPAIGN_FINISHED
    assert verify(cw.world.svc).ok


def test_campaign_interrupted_mid_batch_resumes_each_subject_exactly_once(
    cw: CampaignWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker dying inside a batch (the loop interrupted after some of the
    batch's cases were opened) opens nothing of that batch; the next worker
    resumes and every member gets exactly one case, none skipped."""
    members = cw.members(12)
    campaign = cw.approved()
    assert execution.open_batch(cw.world.svc, campaign.id) == 5  # the first batch commits
    real = execution._open_one
    calls = {"n": 0}

    def dying(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the process stops mid-transaction
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(execution, "_open_one", dying)
    with pytest.raises(KeyboardInterrupt):
        execution.open_batch(cw.world.svc, campaign.id)
    monkeypatch.setattr(execution, "_open_one", real)
    counts = queries.progress(cw.world.svc, cw.starter, campaign.id)
    assert (counts.pending, counts.subjects) == (7, 12)  # the interrupted batch left no trace
    assert sum(_cases_per_subject(cw, members).values()) == 5
    cw.world.drain(passes=60)
    assert _cases_per_subject(cw, members) == {m: 1 for m in members}
    done = queries.progress(cw.world.svc, cw.starter, campaign.id)
    assert (done.campaign.state, done.completed) == (CampaignState.FINISHED, 12)


def test_campaign_pause_holds_and_resume_finishes(cw: CampaignWorld) -> None:
    """Paused, a campaign opens no case; resumed, it goes on and finishes;
    pause and resume are ledger events."""
    members = cw.members(8)
    campaign = cw.approved()
    assert execution.run_campaigns(cw.world.svc) == 5
    commands.pause(cw.world.svc, cw.starter, campaign.id, reason="directory maintenance")
    assert execution.run_campaigns(cw.world.svc) == 0
    assert sum(_cases_per_subject(cw, members).values()) == 5
    commands.resume(cw.world.svc, cw.starter, campaign.id, reason="maintenance over")
    cw.world.drain(passes=60)
    assert _cases_per_subject(cw, members) == {m: 1 for m in members}
    types = [e["type"] for e in _campaign_events(cw, campaign.id)]
    assert EventType.CAMPAIGN_PAUSED in types and EventType.CAMPAIGN_RESUMED in types
    assert types[-1] == EventType.CAMPAIGN_FINISHED


def test_campaign_cancel_stops_opening_cases(cw: CampaignWorld) -> None:
    """Cancelled after its first batch, a campaign opens no more cases: the
    rest are skipped, the report lists them as skipped, the old slapd
    password of a skipped subject still works."""
    members = cw.members(12)
    campaign = cw.approved()
    assert execution.run_campaigns(cw.world.svc) == 5
    _, skipped = commands.cancel(cw.world.svc, cw.starter, campaign.id, reason="false alarm")
    assert skipped == 7
    cw.world.drain(passes=60)
    per_subject = _cases_per_subject(cw, members)
    assert sorted(per_subject.values()) == [0] * 7 + [1] * 5
    data = report.campaign_report(cw.world.svc, cw.starter, campaign.id)
    assert data["campaign"]["state"] == "cancelled"
    assert len(data["subjects"]) == 12
    skipped_ids = [s["subject"] for s in data["subjects"] if s["member"] == "skipped"]
    assert len(skipped_ids) == 7 and all(per_subject[s] == 0 for s in skipped_ids)
    assert all(cw.slapd.can_bind(cw.slapd_dn(s), cw.old_passwords[s]) for s in skipped_ids)
    with cw.world.svc.uow(read_only=True) as uow:
        states = uow.conn.execute(
            select(campaign_members.c.state, func.count())
            .where(campaign_members.c.campaign_id == campaign.id)
            .group_by(campaign_members.c.state)
        ).all()
        assert {state: count for state, count in states} == {"opened": 5, "skipped": 7}
    assert _campaign_events(cw, campaign.id)[-1]["type"] == EventType.CAMPAIGN_CANCELLED


def test_campaign_revoke_sessions_changes_no_password(cw: CampaignWorld) -> None:
    """revoke-sessions ends sessions where a target holds them and changes no
    password: the old slapd password still works; each case completes."""
    members = cw.members(3)
    campaign = cw.approved("revoke-sessions")
    cw.world.drain(passes=60)
    data = report.campaign_report(cw.world.svc, cw.starter, campaign.id)
    assert [s["case_state"] for s in data["subjects"]] == [str(CaseState.COMPLETED)] * 3
    for uid in members:
        assert cw.slapd.can_bind(cw.slapd_dn(uid), cw.old_passwords[uid])
