"""``custos hold set|lift|list`` (docs/holds.md) through typer's CliRunner,
against the world's database on SQLite and PostgreSQL: the operator acts with
their API token (CUSTOS_TOKEN), the setter cannot lift, the list is a table
(or JSON). A policy may add hold kinds and name who lifts; a hold blocks
recovery whatever the tiers match."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import BACKENDS, World, make_world, pg_database
from custos.cli.main import app
from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Role
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.service.recovery import cases

#: The default policy without its frozen tier, plus a kind of its own and a
#: lifting role of its own: the hold alone must stop recovery.
NO_FROZEN_TIER = (
    DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    .replace(
        "    match: {holds: [legal_hold, incident_freeze, fraud]}\n    action: block\n",
        "    match: {holds: [legal_hold]}\n    action: block\n",
    )
    .replace("  kinds: []\n", "  kinds: [export_review]\n")
    .replace(
        "  lifted_by: {role: approver, from_groups: [security-approvers]}\n",
        "  lifted_by: {role: auditor, from_groups: [legal]}\n",
    )
)


def run(world: World, *args: str, token: str | None = None) -> Result:
    settings = world.svc.settings
    assert settings.sealing_key is not None
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
        "CUSTOS_DATABASE_URL": settings.effective_database_url,
        "CUSTOS_POLICY_FILE": str(settings.policy_file) if settings.policy_file else None,
        "CUSTOS_CONFIG": None,
        "CUSTOS_OUTBOX_DIR": None,
        "CUSTOS_SEALING_KEY_FILE": None,
        "CUSTOS_TOKEN": token,
        "COLUMNS": "250",  # the table's every column, unabridged
    }
    return CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), *args], env=env)


@pytest.fixture
def desk(world: World) -> World:
    world.subject("bob", groups=("staff",), with_totp=True)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    return world


def _set(world: World, by: str, *extra: str) -> Result:
    return run(
        world,
        "hold",
        "set",
        "--kind",
        "legal_hold",
        "--subject",
        "bob",
        "--reason",
        "litigation [bold]12[/bold]",
        "--ticket",
        "LEG-12",
        *extra,
        token=world.tokens[by],
    )


def test_set_list_and_lift_by_another_person(desk: World) -> None:
    """The hold blocks bob's open case; the setter's lift is refused with
    hold_lift_by_setter; another security approver lifts it and the case goes
    back to proofing."""
    case = cases.open_helpdesk_case(
        desk.svc, desk.operators["hana"], subject_id="bob", reason="call"
    )
    made = _set(desk, "ada", "--json")
    assert made.exit_code == 0, made.output + made.stderr
    hold = json.loads(made.stdout)
    assert hold["cases_blocked"] == [case.id] and hold["set_by_name"] == "ada"
    with pytest.raises(RecoveryBlocked):
        cases.open_helpdesk_case(desk.svc, desk.operators["hana"], subject_id="bob", reason="x")

    table = run(desk, "hold", "list")
    assert table.exit_code == 0, table.output + table.stderr
    assert hold["id"] in table.stdout and "legal_hold" in table.stdout
    # Typed text is shown as typed, never read as markup.
    assert "[bold]12[/bold]" in table.stdout

    refused = run(desk, "hold", "lift", hold["id"], "-r", "done", token=desk.tokens["ada"])
    assert refused.exit_code == 1
    assert "[hold_lift_by_setter]" in refused.stderr

    lifted = run(desk, "hold", "lift", hold["id"], "-r", "settled", token=desk.tokens["grace"])
    assert lifted.exit_code == 0, lifted.output + lifted.stderr
    assert f"cases back where they stood: {case.id}" in lifted.stdout
    with desk.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case.id).state == "proofing"
    listed = json.loads(run(desk, "hold", "list", "--status", "all", "--json").stdout)
    assert [(h["id"], h["status"], h["lifted_by_name"]) for h in listed] == [
        (hold["id"], "lifted", "grace")
    ]
    assert json.loads(run(desk, "hold", "list", "--json").stdout) == []


def test_set_and_lift_need_an_operator_token(desk: World) -> None:
    missing = run(
        desk, "hold", "set", "-k", "legal_hold", "-s", "bob", "-r", "x", "-t", "T-1", token=None
    )
    assert missing.exit_code == 1 and "[unauthenticated]" in missing.stderr
    forged = run(
        desk,
        "hold",
        "set",
        "-k",
        "legal_hold",
        "-s",
        "bob",
        "-r",
        "x",
        "-t",
        "T-1",
        token="cop_" + "A" * 43,
    )
    assert forged.exit_code == 1 and "[not_authorized]" in forged.stderr
    by_requester = _set(desk, "hana")
    assert by_requester.exit_code == 1 and "[not_authorized]" in by_requester.stderr
    assert json.loads(run(desk, "hold", "list", "--json").stdout) == []


def test_until_and_for_set_the_end_time(desk: World) -> None:
    timed = _set(desk, "ada", "--for", "72h", "--json")
    assert timed.exit_code == 0, timed.output + timed.stderr
    assert json.loads(timed.stdout)["ends_at"] is not None
    both = _set(desk, "ada", "--for", "72h", "--until", "2030-01-01T00:00Z")
    assert both.exit_code == 1 and "[invalid_input]" in both.stderr
    naive = _set(desk, "ada", "--until", "2030-01-01T00:00")
    assert naive.exit_code == 1 and "[invalid_input]" in naive.stderr
    garbage = _set(desk, "ada", "--for", "soon")
    assert garbage.exit_code == 1 and "[invalid_input]" in garbage.stderr


@pytest.fixture(params=BACKENDS)
def custom_policy_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(NO_FROZEN_TIER, encoding="utf-8")
    if request.param == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, policy_file=policy)
        yield world
        world.svc.engine.dispose()
        return
    with pg_database() as url:
        world = make_world(url, tmp_path, policy_file=policy)
        try:
            yield world
        finally:
            world.svc.engine.dispose()


def test_a_policy_kind_blocks_recovery_and_the_policys_role_lifts(
    custom_policy_world: World,
) -> None:
    """No tier matches export_review, yet the hold refuses recovery; the
    policy names auditors in 'legal' as lifters: a security approver may not
    lift it, such an auditor may."""
    world = custom_policy_world
    assert world.svc.settings.policy_file is not None
    checked = run(world, "policy", "check", str(world.svc.settings.policy_file))
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert "hold kinds: export_review, fraud, incident_freeze, legal_hold" in checked.stdout
    assert "who lifts a hold: auditor in legal, never the person who set it" in checked.stdout
    world.subject("bob", groups=("staff",))
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("lena", Role.AUDITOR, groups=("legal",))
    made = run(
        world,
        "hold",
        "set",
        "-k",
        "export_review",
        "-g",
        "staff",
        "-r",
        "export control review",
        "-t",
        "EXP-3",
        "--json",
        token=world.tokens["ada"],
    )
    assert made.exit_code == 0, made.output + made.stderr
    hold_id = json.loads(made.stdout)["id"]
    with pytest.raises(RecoveryBlocked):
        cases.open_helpdesk_case(world.svc, world.operators["hana"], subject_id="bob", reason="x")
    by_security = run(world, "hold", "lift", hold_id, "-r", "x", token=world.tokens["ada"])
    assert by_security.exit_code == 1 and "[not_authorized]" in by_security.stderr
    by_legal = run(world, "hold", "lift", hold_id, "-r", "cleared", token=world.tokens["lena"])
    assert by_legal.exit_code == 0, by_legal.output + by_legal.stderr
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="bob", reason="after the review"
    )
    assert case.state == "proofing"
    unknown = run(
        world,
        "hold",
        "set",
        "-k",
        "gag_order",
        "-s",
        "bob",
        "-r",
        "x",
        "-t",
        "T-1",
        token=world.tokens["ada"],
    )
    assert unknown.exit_code == 1 and "[invalid_input]" in unknown.stderr
