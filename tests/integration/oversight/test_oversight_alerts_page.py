"""The console's operator alerts page (issue 14): auditors see the open
alerts with their evidence seqs; other roles get 403."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from approval_world import world_on
from console_helpers import console_client, sign_in
from fastapi.testclient import TestClient
from oversight_world import fast_approvals

from conftest import BACKENDS, World
from custos.domain.model import Role
from custos.service.oversight.anomalies import open_alerts


@pytest.fixture(params=BACKENDS)
def alerted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with world_on(request.param, tmp_path) as world:
        world.operator("ines", Role.APPROVER)
        world.operator("barbara", Role.AUDITOR)
        fast_approvals(world)
        yield world


def _page(world: World, name: str, path: str) -> tuple[int, str]:
    client: TestClient = console_client(world)
    with client:
        sign_in(client, world, name)
        answer = client.get(path)
    return answer.status_code, answer.text


def test_auditor_sees_the_open_alert_and_its_evidence_seqs_on_the_page(alerted: World) -> None:
    """Issue 14: the console lists the alert, its operator, signal and evidence."""
    [alert] = open_alerts(alerted.svc)
    status, html = _page(alerted, "barbara", "/console/audit/alerts")
    assert status == 200
    assert alert.id in html and "fast_approval" in html and "1 open alert," in html
    assert ", ".join(str(e["seq"]) for e in alert.entries) in html
    status, html = _page(alerted, "barbara", "/console/audit/alerts?operator=hana")
    assert status == 200 and alert.id not in html and "No open alert for this operator" in html
    assert 'href="/console/audit/alerts"' in _page(alerted, "barbara", "/console/audit")[1]


def test_approver_is_refused_the_alerts_page_when_not_an_auditor(alerted: World) -> None:
    """Issue 14: only admins and auditors read operator alerts."""
    status, html = _page(alerted, "ines", "/console/audit/alerts")
    assert status == 403 and "fast_approval" not in html
