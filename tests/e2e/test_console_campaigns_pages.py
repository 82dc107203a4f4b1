"""Incident campaigns in the console (docs/console.md#campaigns), on SQLite
and PostgreSQL: started from the list, approved once by two people other
than the starter (the starter's approval and one person's second refused in
words with the error id, each refusal in the ledger), the live progress
fragment while the worker runs it, the closing report in the same bytes as
the API's, pause/resume/cancel, CSRF, roles and scope."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import World
from custos.domain.model import Role
from custos.store.tables import ledger

CAMPAIGN_ID = re.compile(r"campaign-\d{8}-[0-9a-f]{8}")
PAGE = "/console/campaigns"


@pytest.fixture
def desk(world: World) -> World:
    for i in range(3):
        world.subject(f"ops{i}", groups=("incident-3", "staff"))
    world.subject("fin0", groups=("finance",))
    world.operator("hana", Role.REQUESTER, Role.APPROVER, groups=("security-approvers",))
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    world.operator("otto", Role.APPROVER)  # not in the policy's approver groups
    world.operator("finn", Role.REQUESTER, Role.APPROVER, scope=("finance",))
    world.operator("barbara", Role.AUDITOR)
    world.operator("eve", Role.EXECUTOR)
    return world


@pytest.fixture
def as_(desk: World) -> Iterator[dict[str, TestClient]]:
    clients = {}
    for name in ("hana", "ada", "grace", "otto", "finn", "barbara", "eve"):
        client = console_client(desk)
        client.__enter__()
        sign_in(client, desk, name)
        clients[name] = client
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def _start(client: TestClient, **form: str) -> Any:
    csrf = csrf_of(client.get(PAGE).text)
    data = {
        "csrf": csrf,
        "group": "incident-3",
        "action": "force-reset",
        "reason": "phishing wave",
        "ticket": "INC-3",
        **form,
    }
    return client.post(PAGE, data=data, follow_redirects=False)


def _started(client: TestClient, **form: str) -> str:
    answer = _start(client, **form)
    assert answer.status_code == 303, answer.text
    found = CAMPAIGN_ID.search(answer.headers["location"])
    assert found and answer.headers["location"].endswith("?notice=started")
    return found.group(0)


def _post(client: TestClient, campaign_id: str, action: str, reason: str = "ok") -> Any:
    csrf = csrf_of(client.get(PAGE).text)
    return client.post(
        f"{PAGE}/{campaign_id}/{action}",
        data={"csrf": csrf, "reason": reason},
        follow_redirects=False,
    )


def _events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(select(ledger.c.canonical).where(ledger.c.type == type_)).scalars()
        return [json.loads(r) for r in rows]


def test_started_refused_to_its_starter_approved_by_two_others_runs_and_reports(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """R-32, R-33: the starter's approval and a second approval by one person
    are 403 campaign_self_approval, in words, in the ledger; an approver
    outside the policy's groups is not_authorized; two others start it; the
    live fragment counts the worker's progress; the report links give the
    API's bytes."""
    campaign_id = _started(as_["hana"])
    page = as_["hana"].get(f"{PAGE}/{campaign_id}?notice=started").text
    assert "The campaign is started and recorded in the ledger." in page
    assert " UTC by hana</dd>" in page  # the starter's name, not an id
    assert "You started this campaign: two other people must approve it." in page
    assert f'action="/console/campaigns/{campaign_id}/approve"' not in page
    assert f'hx-get="/console/campaigns/{campaign_id}/live' not in page  # not running yet

    own = _post(as_["hana"], campaign_id, "approve")
    assert own.status_code == 403
    assert "You started this campaign: two other people must approve it." in own.text
    assert "Error id: campaign_self_approval" in own.text
    outsider = _post(as_["otto"], campaign_id, "approve")
    assert outsider.status_code == 403 and "Error id: not_authorized" in outsider.text
    assert "campaign approvals must come from: security-approvers" in outsider.text.lower()
    assert _post(as_["ada"], campaign_id, "approve").status_code == 303
    twice = _post(as_["ada"], campaign_id, "approve")
    assert twice.status_code == 403 and "You already approved this campaign" in twice.text
    assert len(_events(desk, "oversight:campaign:approval_refused")) == 3

    started = _post(as_["grace"], campaign_id, "approve")
    assert started.status_code == 303
    running = as_["grace"].get(started.headers["location"]).text
    assert "Your approval is recorded in the ledger." in running
    assert f'hx-get="/console/campaigns/{campaign_id}/live?shown=running"' in running
    assert "<dt>Pending</dt><dd>3</dd>" in running

    desk.clock.advance(timedelta(minutes=2))
    desk.drain(passes=40)
    live = as_["barbara"].get(f"{PAGE}/{campaign_id}/live?shown=running")
    assert live.headers.get("HX-Redirect") == f"{PAGE}/{campaign_id}"  # finished: reload
    assert "<dt>Done</dt><dd>3</dd>" in live.text and "<dt>Failed</dt><dd>0</dd>" in live.text
    assert "hx-trigger" not in live.text  # finished: polling stops
    assert "<dt>Pending</dt><dd>0</dd>" in live.text
    assert "1.5 subjects a minute" in live.text  # 3 done in the 2 minutes since it began

    api = {"Authorization": f"Bearer {desk.tokens['barbara']}"}
    client = as_["barbara"]
    for console, path in (("report.json", "report"), ("report.html", "report.html")):
        ours = client.get(f"{PAGE}/{campaign_id}/{console}")
        theirs = client.get(f"/api/v1/campaigns/{campaign_id}/{path}", headers=api)
        assert ours.status_code == theirs.status_code == 200
        assert ours.content == theirs.content
    html = client.get(f"{PAGE}/{campaign_id}/report.html")
    assert "sandbox" in html.headers["content-security-policy"]
    assert "script-src" not in html.headers["content-security-policy"]
    assert [e["outcome"] for e in _events(desk, "oversight:campaign:approved")] == [
        "success",
        "success",
    ]


def test_pause_resume_cancel_and_the_refusals(desk: World, as_: dict[str, TestClient]) -> None:
    campaign_id = _started(as_["hana"], action="revoke-sessions")
    awaiting = as_["ada"].get(f"{PAGE}/{campaign_id}").text
    assert "Pausing, resuming and cancelling need the requester role." in awaiting
    refused = _post(as_["ada"], campaign_id, "cancel", "no")
    assert refused.status_code == 403 and "Error id: not_authorized" in refused.text
    resume = _post(as_["hana"], campaign_id, "resume", "go")
    assert resume.status_code == 409 and "Error id: campaign_not_active" in resume.text
    for name in ("ada", "grace"):
        assert _post(as_[name], campaign_id, "approve").status_code == 303
    paused = _post(as_["hana"], campaign_id, "pause", "checking the scope")
    assert paused.status_code == 303
    page = as_["hana"].get(paused.headers["location"]).text
    assert "The campaign is paused" in page and "Resume the campaign" in page
    assert _post(as_["hana"], campaign_id, "resume", "scope fine").status_code == 303
    cancelled = _post(as_["hana"], campaign_id, "cancel", "false alarm")
    assert cancelled.status_code == 303
    done = as_["hana"].get(cancelled.headers["location"]).text
    assert "The campaign is cancelled" in done and "<dt>Skipped</dt><dd>3</dd>" in done
    assert "it cannot change any more" in done
    [event] = _events(desk, "oversight:campaign:cancelled")
    assert (event["reason"], event["data"]["skipped"]) == ("false alarm", 3)
    bad_move = _post(as_["hana"], campaign_id, "finish")
    assert bad_move.status_code in (404, 405, 422)


def test_csrf_scope_roles_and_input(desk: World, as_: dict[str, TestClient]) -> None:
    """No CSRF: refused and nothing recorded; a group outside the starter's
    scope is out_of_scope; a campaign outside the scope is 404 (page, live
    part, actions, report); an executor cannot start one nor read the report;
    the navigation shows the page to its users only."""
    no_csrf = as_["hana"].post(PAGE, data={"group": "incident-3", "action": "reissue"})
    assert no_csrf.status_code == 403 and "csrf_refused" in no_csrf.text
    empty = _start(as_["hana"], ticket=" ")
    assert empty.status_code == 422 and "Error id: invalid_input" in empty.text
    assert 'value="phishing wave"' in empty.text or ">phishing wave</textarea>" in empty.text
    unknown = _start(as_["hana"], action="wipe")
    assert unknown.status_code == 422 and "Unknown campaign action" in unknown.text
    outside = _start(as_["finn"])
    assert outside.status_code == 403 and "Error id: out_of_scope" in outside.text
    assert _events(desk, "oversight:campaign:started") == []

    campaign_id = _started(as_["hana"])
    for path in ("", "/live", "/report.json", "/report.html"):
        assert as_["finn"].get(f"{PAGE}/{campaign_id}{path}").status_code == 404
    assert _post(as_["finn"], campaign_id, "approve").status_code == 404
    assert _post(as_["finn"], campaign_id, "cancel").status_code == 404
    assert campaign_id not in as_["finn"].get(PAGE).text
    executor = _start(as_["eve"])
    assert executor.status_code == 403 and "Error id: not_authorized" in executor.text
    assert as_["eve"].get(f"{PAGE}/{campaign_id}/report.json").status_code == 403
    assert (
        "The report is for auditors, requesters and approvers."
        in as_["eve"].get(f"{PAGE}/{campaign_id}").text
    )
    for name in ("hana", "ada", "barbara"):
        assert 'href="/console/campaigns"' in as_[name].get("/").text
    assert 'href="/console/campaigns"' not in as_["eve"].get("/").text
