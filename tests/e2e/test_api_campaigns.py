"""Incident campaigns through the HTTP API (docs/campaigns.md), on SQLite and
PostgreSQL: the starter's own approval answers 403 campaign_self_approval
(R-32), two other approvals start it, the worker runs it to the end, the
report (JSON and HTML) lists every member with its system; a campaign
outside the operator's scope answers 404; a cancelled one cannot resume (409)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Role

CAMPAIGNS = "/api/v1/campaigns"


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    for i in range(3):
        world.subject(f"ops{i}", groups=("incident-3", "staff"))
    world.operator("hana", Role.REQUESTER, Role.APPROVER, groups=("security-approvers",))
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    world.operator("finn", Role.REQUESTER, Role.APPROVER, scope=("finance",))
    with TestClient(create_app(world.svc)) as client:
        yield client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _start(api: TestClient, world: World, action: str = "force-reset") -> str:
    body = {"group": "incident-3", "action": action, "reason": "phished", "ticket": "INC-3"}
    answer = api.post(CAMPAIGNS, headers=auth(world, "hana"), json=body)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["state"], answer.json()["subjects"]) == ("awaiting_approval", 3)
    return str(answer.json()["id"])


def test_campaign_api_approved_by_two_others_runs_and_reports(
    api: TestClient, world: World
) -> None:
    """R-32: the starter's approval is 403 campaign_self_approval; two others
    start the campaign; the worker finishes it; the report covers every member."""
    campaign = _start(api, world)
    url = f"{CAMPAIGNS}/{campaign}"
    own = api.post(f"{url}/approve", headers=auth(world, "hana"), json={"reason": "mine"})
    assert own.status_code == 403 and own.json()["error"]["id"] == "campaign_self_approval"
    for name in ("ada", "grace"):
        answer = api.post(f"{url}/approve", headers=auth(world, name), json={"reason": "ok"})
        assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "running"
    world.drain(passes=40)
    shown = api.get(url, headers=auth(world, "ada")).json()
    assert (shown["state"], shown["completed"]) == ("finished", 3)
    data = api.get(f"{url}/report", headers=auth(world, "ada")).json()
    assert [s["subject"] for s in data["subjects"]] == ["ops0", "ops1", "ops2"]
    assert data["totals"]["systems"] == {"directory": {"succeeded": 3}}
    page = api.get(f"{url}/report.html", headers=auth(world, "ada"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert all(f"ops{i}" in page.text for i in range(3))


def test_campaign_api_out_of_scope_is_not_found_and_cancelled_cannot_resume(
    api: TestClient, world: World
) -> None:
    """Out of scope reveals nothing (404); cancel stops (409 on resume)."""
    campaign = _start(api, world, "revoke-sessions")
    url = f"{CAMPAIGNS}/{campaign}"
    assert api.get(url, headers=auth(world, "finn")).status_code == 404
    hidden = api.post(f"{url}/approve", headers=auth(world, "finn"), json={"reason": "x"})
    assert hidden.status_code == 404
    assert api.get(CAMPAIGNS, headers=auth(world, "finn")).json() == {"campaigns": []}
    cancelled = api.post(f"{url}/cancel", headers=auth(world, "hana"), json={"reason": "no"})
    assert cancelled.status_code == 200 and cancelled.json()["skipped"] == 3
    again = api.post(f"{url}/resume", headers=auth(world, "hana"), json={"reason": "go"})
    assert again.status_code == 409 and again.json()["error"]["id"] == "campaign_not_active"


def test_campaign_api_resume_does_not_skip_the_approvals(api: TestClient, world: World) -> None:
    """R-32: a campaign awaiting its approvals cannot be "resumed" into running
    by its starter (409 campaign_not_active); it still waits for two others."""
    campaign = _start(api, world)
    url = f"{CAMPAIGNS}/{campaign}"
    resumed = api.post(f"{url}/resume", headers=auth(world, "hana"), json={"reason": "go"})
    assert resumed.status_code == 409, resumed.text
    assert resumed.json()["error"]["id"] == "campaign_not_active"
    assert api.get(url, headers=auth(world, "ada")).json()["state"] == "awaiting_approval"
    world.drain(passes=5)
    assert api.get(url, headers=auth(world, "ada")).json()["pending"] == 3
