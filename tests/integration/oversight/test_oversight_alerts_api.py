"""``GET /api/v1/oversight/alerts`` (issue 14): auditors list the open operator
anomaly alerts with their evidence; other roles are refused, and the refusal
is recorded (R-36)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from approval_world import world_on
from fastapi.testclient import TestClient
from oversight_world import fast_approvals
from sqlalchemy import select

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.events import EventType
from custos.domain.model import Role
from custos.service.oversight.anomalies import open_alerts
from custos.store.tables import ledger

ALERTS = "/api/v1/oversight/alerts"


@pytest.fixture(params=BACKENDS)
def alerted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, TestClient]]:
    with world_on(request.param, tmp_path) as world:
        world.operator("ines", Role.APPROVER)
        world.operator("barbara", Role.AUDITOR)
        fast_approvals(world)
        with TestClient(create_app(world.svc)) as client:
            yield world, client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def test_auditor_lists_the_open_alert_with_its_evidence_when_one_was_raised(
    alerted: tuple[World, TestClient],
) -> None:
    """Issue 14: the auditor sees the alert, its signal and the ledger entries."""
    world, api = alerted
    [alert] = open_alerts(world.svc)
    answer = api.get(ALERTS, headers=auth(world, "barbara"))
    assert answer.status_code == 200, answer.text
    [listed] = answer.json()["alerts"]
    assert listed["id"] == alert.id and listed["signal"] == "fast_approval"
    assert listed["operator"] == "ines"
    assert [e["seq"] for e in listed["evidence"]] == [e["seq"] for e in alert.entries]

    other = api.get(ALERTS, params={"operator": "hana"}, headers=auth(world, "barbara"))
    assert other.status_code == 200 and other.json() == {"alerts": []}


def test_approver_is_refused_and_the_refusal_recorded_when_listing_alerts(
    alerted: tuple[World, TestClient],
) -> None:
    """Issue 14 / R-36: only admins and auditors read the alerts; the refused
    attempt is a ledger entry; without a token the answer is 401."""
    world, api = alerted
    answer = api.get(ALERTS, headers=auth(world, "ines"))
    assert answer.status_code == 403 and answer.json()["error"]["id"] == "not_authorized"
    assert api.get(ALERTS).status_code == 401
    with world.svc.engine.connect() as conn:
        actors = list(
            conn.execute(
                select(ledger.c.actor).where(ledger.c.type == str(EventType.OPERATOR_REFUSED))
            ).scalars()
        )
    assert actors == [world.operators["ines"].actor]
