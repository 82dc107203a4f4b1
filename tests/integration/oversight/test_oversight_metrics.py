"""Oversight figures on ``GET /metrics`` (issue 14): refusals by kind (R-36)
and open anomaly alerts by signal, with no operator named."""

from __future__ import annotations

from pathlib import Path

import pytest
from approval_world import world_on
from fastapi.testclient import TestClient
from oversight_world import fast_approvals

from conftest import BACKENDS
from custos.api.app import create_app
from custos.domain.model import Role


@pytest.mark.parametrize("backend", BACKENDS)
def test_metrics_count_refusals_and_open_alerts_when_both_happened(
    backend: str, tmp_path: Path
) -> None:
    """Issue 14: one role refusal and one fast-approval alert appear as counts."""
    with world_on(backend, tmp_path, metrics_enabled=True) as world:
        world.operator("ines", Role.APPROVER)
        fast_approvals(world)
        with TestClient(create_app(world.svc)) as api:
            bearer = {"Authorization": f"Bearer {world.tokens['ines']}"}
            assert api.get("/api/v1/oversight/alerts", headers=bearer).status_code == 403
            text = api.get("/metrics").text
    assert 'custos_operator_refusals_total{kind="role"} 1.0' in text
    assert 'custos_operator_anomaly_alerts_open{signal="fast_approval"} 1.0' in text
    assert "ines" not in text
