"""``custos exception request|approve|revoke|list`` (docs/exceptions.md)
through typer's CliRunner, against the world's database on SQLite and
PostgreSQL: operators act with their API token; the requester cannot approve;
the list shows the exception and its status."""

from __future__ import annotations

import json

from test_hold_command import run
from typer.testing import Result

from conftest import World
from custos.domain.model import Role


def _request(world: World, by: str, *extra: str) -> Result:
    return run(
        world,
        "exception",
        "request",
        "--reason",
        "manager on [bold]leave[/bold]",
        "--ticket",
        "CHG-1042",
        "--relax",
        "method",
        "--value",
        "manager_attestation",
        "--subject",
        "bob",
        *extra,
        "--json",
        token=world.tokens[by],
    )


def test_exception_request_approve_list_through_the_cli(world: World) -> None:
    """R-32, R-33: requested with a token, refused to its requester, active
    after two other approvers, shown by `exception list` (table and JSON)."""
    world.subject("bob")
    world.operator("rita", Role.REQUESTER, Role.APPROVER)
    world.operator("ada", Role.APPROVER)
    world.operator("grace", Role.APPROVER)
    requested = _request(world, "rita", "--for", "24h")
    assert requested.exit_code == 0, requested.output
    exception_id = json.loads(requested.output)["id"]
    own = run(world, "exception", "approve", exception_id, token=world.tokens["rita"])
    assert own.exit_code != 0 and "exception_approval_refused" in own.output
    for by in ("ada", "grace"):
        approved = run(world, "exception", "approve", exception_id, token=world.tokens[by])
        assert approved.exit_code == 0, approved.output
    listed = run(world, "exception", "list", "--status", "active")
    assert listed.exit_code == 0, listed.output
    assert exception_id in listed.output and "manager on [bold]leave[/bold]" in listed.output
    assert "CHG-1042" in listed.output  # the ticket column
    [row] = json.loads(run(world, "exception", "list", "--json").output)
    assert row["status"] == "active" and row["approvers"] == ["ada", "grace"]
    assert row["ticket"] == "CHG-1042"


def test_exception_request_beyond_the_cap_fails_and_records_nothing(world: World) -> None:
    world.subject("bob")
    world.operator("rita", Role.REQUESTER, Role.APPROVER)
    too_long = _request(world, "rita", "--for", "80h")
    assert too_long.exit_code != 0 and "invalid_input" in too_long.output
    bad_status = run(world, "exception", "list", "--status", "bogus")
    assert bad_status.exit_code != 0 and "invalid_input" in bad_status.output
    assert json.loads(run(world, "exception", "list", "--json").output) == []


def test_exception_request_without_a_ticket_is_refused(world: World) -> None:
    """The CLI asks for --ticket; a blank one is refused as invalid_input, and
    nothing is recorded."""
    world.subject("bob")
    world.operator("rita", Role.REQUESTER)
    args = ("exception", "request", "--reason", "r", "--relax", "approvals", "--value", "1")
    missing = run(world, *args, "--subject", "bob", "--for", "1h", token=world.tokens["rita"])
    assert missing.exit_code != 0 and "--ticket" in missing.output
    blank = run(
        world, *args, "--ticket", " ", "--subject", "bob", "--for", "1h", token=world.tokens["rita"]
    )
    assert blank.exit_code != 0 and "invalid_input" in blank.output
    assert json.loads(run(world, "exception", "list", "--json").output) == []
