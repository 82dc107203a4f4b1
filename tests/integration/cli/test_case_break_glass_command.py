"""``custos case break-glass CASE --exception ID --reason TEXT``
(docs/exceptions.md) through typer's CliRunner, against the world's database
on SQLite and PostgreSQL: the help desk sends a held subject's blocked case
on with its API token, the alert mail waits in the outbox, ``case show``
marks the use; without an alert channel, or by someone else's case outside
the scope, break-glass is refused and nothing changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from break_glass_world import blocked_case, glass_exception, held_subject, staff
from test_hold_command import run
from typer.testing import CliRunner, Result

from conftest import World
from custos.cli.main import app
from custos.notify.outbox import read_outbox

SECURITY = "soc@example.org"


def glass(world: World, case_id: str, exception_id: str, *, alerting: bool = True) -> Result:
    """``run`` with the security contact configured for the command's process
    (as a deployment's configuration would), or with no alert channel."""
    settings = world.svc.settings
    assert settings.sealing_key is not None
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
        "CUSTOS_DATABASE_URL": settings.effective_database_url,
        "CUSTOS_CONFIG": None,
        "CUSTOS_OUTBOX_DIR": None,
        "CUSTOS_SEALING_KEY_FILE": None,
        "CUSTOS_TOKEN": world.tokens["hana"],
        "CUSTOS_SECURITY_ADDRESS": SECURITY if alerting else None,
        "COLUMNS": "250",
    }
    args = ["case", "break-glass", case_id, "--exception", exception_id]
    args += ["--reason", "CFO locked out at [bold]close[/bold]", "--json"]
    return CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), *args], env=env)


def on_the_wall_clock(world: World) -> None:
    """The command's process reads the wall clock: the world's moves there."""
    world.clock.advance(datetime.now(UTC) - world.clock.now())


def test_case_break_glass_through_the_cli(world: World) -> None:
    """R-36: the use is recorded (case show), the case goes to proofing with
    one approval more, and the security alert is written to the outbox with
    it (sent by the worker's sweep)."""
    on_the_wall_clock(world)
    staff(world)
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")
    used = glass(world, case_id, exception_id)
    assert used.exit_code == 0, used.output
    body = json.loads(used.output)
    assert body["state"] == "proofing" and body["approvals"] == 2
    shown = run(world, "case", "show", case_id)
    assert shown.exit_code == 0, shown.output
    assert "break-glass" in shown.output and exception_id in shown.output
    on_the_wall_clock(world)  # the row is due from the command's own now
    world.send_notices()
    [mail] = [m for m in read_outbox(world.outbox) if m["kind"] == "break_glass_used"]
    assert mail["to"] == SECURITY and case_id in mail["body"]


def test_case_break_glass_without_an_alert_channel_is_refused(world: World) -> None:
    """Every use alerts: with neither a security address nor a webhook
    configured, break_glass_refused (rule no_alert_channel); the case stays
    blocked. Without a token: unauthenticated."""
    on_the_wall_clock(world)
    staff(world)
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")
    refused = glass(world, case_id, exception_id, alerting=False)
    assert refused.exit_code != 0 and "break_glass_refused" in refused.output
    assert "security_address" in refused.output
    shown = json.loads(run(world, "case", "show", case_id, "--json").output)
    assert shown["state"] == "blocked" and shown["break_glass"] is None
    anonymous = run(
        world, "case", "break-glass", case_id, "--exception", exception_id, "--reason", "x"
    )
    assert anonymous.exit_code != 0 and "unauthenticated" in anonymous.output
