"""``custos campaign ...`` (docs/campaigns.md) through typer's CliRunner on
SQLite and PostgreSQL, as operators with their API tokens: the starter's own
approval refused with its error id, two approvals, ``run`` works the campaign
to its end with a progress bar, ``status`` and ``report`` (HTML and JSON
files) list every subject and system; pause, resume and cancel answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import World
from custos.cli.main import app
from custos.domain.model import Role


def run(world: World, *args: str, token: str | None = None) -> Result:
    settings = world.svc.settings
    assert settings.sealing_key is not None
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
        "CUSTOS_DATABASE_URL": settings.effective_database_url,
        "CUSTOS_POLICY_FILE": str(settings.policy_file) if settings.policy_file else None,
        "CUSTOS_CONFIG": None,
        "CUSTOS_OUTBOX_DIR": str(settings.effective_outbox),
        "CUSTOS_SEALING_KEY_FILE": None,
        "CUSTOS_TOKEN": token,
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), *args], env=env)


@pytest.fixture
def team(world: World) -> World:
    for i in range(4):
        world.subject(f"crew{i}", groups=("incident-9", "staff"))
    world.subject("bystander", groups=("staff",))
    world.operator("hana", Role.REQUESTER, Role.APPROVER, groups=("security-approvers",))
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    return world


def _start(world: World, action: str = "force-reset") -> str:
    started = run(
        world,
        "campaign",
        "start",
        "--group",
        "incident-9",
        "--action",
        action,
        "--reason",
        "phished",
        "--ticket",
        "INC-9",
        "--json",
        token=world.tokens["hana"],
    )
    assert started.exit_code == 0, started.output
    row = json.loads(started.output)
    assert (row["state"], row["subjects"]) == ("awaiting_approval", 4)
    return str(row["id"])


def test_campaign_cli_runs_to_a_report_after_two_other_approvals(
    team: World, tmp_path: Path
) -> None:
    """R-32: the starter's approval exits 1 with campaign_self_approval; two
    other approvers start it; run shows progress and finishes; the HTML and
    JSON reports list every subject with its system."""
    campaign = _start(team)
    own = run(team, "campaign", "approve", campaign, "-r", "mine", token=team.tokens["hana"])
    assert own.exit_code == 1 and "campaign_self_approval" in own.output
    for name in ("ada", "grace"):
        done = run(team, "campaign", "approve", campaign, "-r", "ok", token=team.tokens[name])
        assert done.exit_code == 0, done.output
    assert "running" in done.output
    ran = run(team, "campaign", "run", campaign, "--poll", "0.05", token=team.tokens["ada"])
    assert ran.exit_code == 0, ran.output
    assert "4 subject(s): 4 settled (4 completed)" in ran.output
    status = run(team, "campaign", "status", campaign, "--json", token=team.tokens["ada"])
    assert json.loads(status.output)["state"] == "finished"
    html, data = tmp_path / "report.html", tmp_path / "report.json"
    wrote = run(
        team,
        "campaign",
        "report",
        campaign,
        "--html",
        str(html),
        "--json-out",
        str(data),
        token=team.tokens["ada"],
    )
    assert wrote.exit_code == 0, wrote.output
    report = json.loads(data.read_text(encoding="utf-8"))
    assert [s["subject"] for s in report["subjects"]] == [f"crew{i}" for i in range(4)]
    assert all(
        [(r["target"], r["state"]) for r in s["systems"]] == [("directory", "succeeded")]
        for s in report["subjects"]
    )
    page = html.read_text(encoding="utf-8")
    assert all(f"crew{i}" in page for i in range(4)) and "bystander" not in page
    # A report aimed below a plain file: a clear error, not a traceback.
    below = str(html / "report.html")
    refused = run(team, "campaign", "report", campaign, "--html", below, token=team.tokens["ada"])
    assert refused.exit_code == 1 and "error [file_error]" in refused.stderr, refused.output
    assert html.read_text(encoding="utf-8") == page


def test_campaign_cli_pause_resume_cancel_answer(team: World) -> None:
    """pause, resume and cancel change the state and say so; a cancelled
    campaign cannot be resumed (campaign_not_active)."""
    campaign = _start(team, "revoke-sessions")
    for name in ("ada", "grace"):
        run(team, "campaign", "approve", campaign, "-r", "ok", token=team.tokens[name])
    hana = team.tokens["hana"]
    paused = run(team, "campaign", "pause", campaign, "-r", "wait", token=hana)
    assert paused.exit_code == 0 and "paused" in paused.output
    resumed = run(team, "campaign", "resume", campaign, "-r", "go", token=hana)
    assert resumed.exit_code == 0 and "running" in resumed.output
    cancelled = run(team, "campaign", "cancel", campaign, "-r", "false alarm", token=hana)
    assert cancelled.exit_code == 0 and "4 subject(s) will get no case" in cancelled.output
    again = run(team, "campaign", "resume", campaign, "-r", "go", token=hana)
    assert again.exit_code == 1 and "campaign_not_active" in again.output
    listed = run(team, "campaign", "list", "--json", token=hana)
    assert [r["state"] for r in json.loads(listed.output)] == ["cancelled"]
