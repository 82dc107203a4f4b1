"""``custos oversight report`` (issue 14): baselines and open alerts with the
ledger seqs that show them, as tables and as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from approval_world import world_on
from cli_runner import run_cli
from oversight_world import fast_approvals

from conftest import BACKENDS, World
from custos.domain.model import Role
from custos.service.oversight.anomalies import open_alerts


@pytest.fixture(params=BACKENDS)
def alerted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Ines approved three of Hana's cases 30 s after each opened; the worker ran."""
    with world_on(request.param, tmp_path) as world:
        world.operator("ines", Role.APPROVER)
        fast_approvals(world)
        yield world


def test_report_shows_baselines_and_the_open_alert_with_its_evidence_seqs(
    alerted: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the report lists every operator's baseline and the open alert
    with the seqs of the ledger entries it cites."""
    monkeypatch.setenv("COLUMNS", "250")
    [alert] = open_alerts(alerted.svc)
    seqs = [str(e["seq"]) for e in alert.entries]

    result = run_cli(alerted, "oversight", "report")
    assert result.exit_code == 0, result.output
    assert "Baselines (2 operator(s))" in result.output
    assert "hana" in result.output and "ines" in result.output
    assert "Open alerts (1)" in result.output and "fast_approval" in result.output
    assert ", ".join(seqs) in result.output

    result = run_cli(alerted, "oversight", "report", "--operator", "ines", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [b["operator"] for b in shown["baselines"]] == ["ines"]
    assert shown["baselines"][0]["actions"] == 3
    [listed] = shown["alerts"]
    assert listed["id"] == alert.id and [str(e["seq"]) for e in listed["evidence"]] == seqs


def test_report_of_another_operator_lists_no_alert_when_only_ines_deviated(
    alerted: World,
) -> None:
    """Issue 14: ``--operator`` narrows both lists (no alert is hana's)."""
    result = run_cli(alerted, "oversight", "report", "--operator", "hana", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["alerts"] == [] and [b["operator"] for b in shown["baselines"]] == ["hana"]
