"""Oversight figures on ``GET /metrics`` (issue 14): refusals by kind (R-36)
and open anomaly alerts by signal, with no operator named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from approval_world import awaiting_case, world_on
from fastapi.testclient import TestClient

from conftest import BACKENDS
from custos.api.app import create_app
from custos.domain.model import Role
from custos.service.recovery import cases


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_count_refusals_and_open_alerts_when_both_happened(
    backend: str, tmp_path: Path
) -> None:
    """Issue 14: one role refusal and one fast-approval alert appear as counts."""
    with world_on(backend, tmp_path, metrics_enabled=True) as world:
        world.operator("ines", Role.APPROVER)
        for name in ("kim", "lou", "max"):
            case_id = awaiting_case(world, name)
            world.clock.advance(timedelta(seconds=30))
            cases.approve(world.svc, world.operators["ines"], case_id, reason="caller verified")
        world.drain()
        with TestClient(create_app(world.svc)) as api:
            bearer = {"Authorization": f"Bearer {world.tokens['ines']}"}
            assert api.get("/api/v1/oversight/alerts", headers=bearer).status_code == 403
            text = api.get("/metrics").text
    assert 'custos_operator_refusals_total{kind="role"} 1.0' in text
    assert 'custos_operator_anomaly_alerts_open{signal="fast_approval"} 1.0' in text
    assert "ines" not in text
