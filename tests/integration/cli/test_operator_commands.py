"""``custos operator ...`` (docs/console.md#operators): list, add with a way into
the console, disable/enable, set-access, token lifetime, revoke, second-factor
reset, one-time password and enrolment link. Each change is a ledger event by
``cli:local``; a secret is printed once and never written to the ledger."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ledger_json import LedgerEvent, ledger_event
from sqlalchemy import select
from test_cli_commands import TOKEN_RE, key, run, services, upgraded

from custos.clock import ManualClock
from custos.domain.errors import NotAuthorized
from custos.service.console import sessions
from custos.service.recovery.operators import authenticate
from custos.store.tables import ledger

__all__ = ["key"]  # the fixture, imported for the tests below

LINK_RE = re.compile(r"/console/sign-in/link#token=col_[A-Za-z0-9_-]{43}")


def _events(tmp: Path, key: str, type_: str) -> list[LedgerEvent]:
    with services(tmp, key).engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [ledger_event(r) for r in rows]


def _ledger(tmp: Path, key: str) -> str:
    with services(tmp, key).engine.connect() as conn:
        return "\n".join(conn.execute(select(ledger.c.canonical)).scalars())


@pytest.fixture
def data(tmp_path: Path, key: str) -> Path:
    upgraded(tmp_path, key)
    added = run(tmp_path, key, "operator", "add", "dana", "--role", "requester", "--scope", "staff")
    assert added.exit_code == 0, added.output + added.stderr
    return tmp_path


def test_add_with_enrolment_link_one_time_password_and_no_token(data: Path, key: str) -> None:
    result = run(
        data,
        key,
        "operator",
        "add",
        "lea",
        "--role",
        "auditor",
        "--scope",
        "*",
        "--no-token",
        "--one-time-password",
        "--enrolment-link",
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "cop_" not in result.stdout
    link = LINK_RE.search(result.stdout)
    assert link is not None
    password = result.stdout.split("one-time console password (shown once, hand it over now):")[1]
    password = password.split()[0]
    assert len(password) >= 15
    text = _ledger(data, key)
    assert password not in text and link.group(0).split("#token=")[1] not in text
    assert _events(data, key, "admin:operator:created")[-1]["data"]["api_token"] is False
    assert _events(data, key, "admin:operator:password_set")[-1]["actor"] == "cli:local"


def test_list_shows_every_operator_without_secrets(data: Path, key: str) -> None:
    listing = run(data, key, "operator", "list", "--json")
    assert listing.exit_code == 0, listing.output + listing.stderr
    rows = json.loads(listing.stdout)
    assert [r["name"] for r in rows] == ["dana"]
    assert rows[0]["roles"] == ["requester"] and rows[0]["api_token"] == "active"
    assert rows[0]["second_factors"] == [] and rows[0]["active"] is True
    table = run(data, key, "operator", "list")
    assert "dana" in table.stdout and "cop_" not in table.stdout


def test_disable_ends_sessions_and_refuses_the_token_then_enable(data: Path, key: str) -> None:
    svc = services(data, key)
    token = run(data, key, "operator", "rotate-token", "dana")
    (bearer,) = TOKEN_RE.findall(token.stdout)
    dana = authenticate(svc, bearer)
    session = sessions.open_session(svc, dana.id, method="password", source=None)

    disabled = run(data, key, "operator", "disable", "dana")
    assert disabled.exit_code == 0, disabled.output + disabled.stderr
    assert "1 console session(s) ended" in disabled.stdout
    with pytest.raises(NotAuthorized):
        authenticate(svc, bearer)
    with pytest.raises(NotAuthorized):
        sessions.current(svc, session)
    assert _events(data, key, "admin:operator:disabled")[-1]["actor"] == "cli:local"
    again = run(data, key, "operator", "disable", "dana")
    assert again.exit_code == 1 and "already disabled" in again.stderr

    assert run(data, key, "operator", "enable", "dana").exit_code == 0
    assert authenticate(svc, bearer).name == "dana"
    assert _events(data, key, "admin:operator:enabled")


def test_set_access_replaces_roles_and_scope(data: Path, key: str) -> None:
    result = run(
        data,
        key,
        "operator",
        "set-access",
        "dana",
        "--role",
        "approver",
        "--role",
        "executor",
        "--scope",
        "contractors",
    )
    assert result.exit_code == 0, result.output + result.stderr
    changed = _events(data, key, "admin:operator:roles_changed")[-1]["data"]
    assert changed["to"] == {
        "roles": ["approver", "executor"],
        "scope": ["contractors"],
        "groups": [],
    }
    unknown = run(data, key, "operator", "set-access", "ghost", "--role", "auditor", "--scope", "*")
    assert unknown.exit_code == 1 and "not_found" in unknown.stderr


def test_a_token_with_a_lifetime_is_refused_once_expired(data: Path, key: str) -> None:
    result = run(data, key, "operator", "rotate-token", "dana", "--token-days", "2")
    assert result.exit_code == 0, result.output + result.stderr
    (token,) = TOKEN_RE.findall(result.stdout)
    now = datetime.now(UTC)
    assert authenticate(services(data, key, ManualClock(now)), token).name == "dana"
    later = services(data, key, ManualClock(now + timedelta(days=2, minutes=1)))
    with pytest.raises(NotAuthorized):
        authenticate(later, token)
    bad = run(data, key, "operator", "rotate-token", "dana", "--token-days", "0")
    assert bad.exit_code == 1 and "invalid_input" in bad.stderr


def test_revoke_token_reset_second_factor_and_links(data: Path, key: str) -> None:
    token = TOKEN_RE.findall(run(data, key, "operator", "rotate-token", "dana").stdout)[0]
    revoked = run(data, key, "operator", "revoke-token", "dana")
    assert revoked.exit_code == 0, revoked.output + revoked.stderr
    with pytest.raises(NotAuthorized):
        authenticate(services(data, key), token)
    assert _events(data, key, "admin:operator:token_revoked")

    reset = run(data, key, "operator", "reset-second-factor", "dana")
    assert reset.exit_code == 0 and "0 second factor(s)" in reset.stdout
    assert _events(data, key, "admin:operator:second_factor_reset")

    link = run(data, key, "operator", "enrolment-link", "dana")
    assert link.exit_code == 0 and LINK_RE.search(link.stdout)
    password = run(data, key, "operator", "one-time-password", "dana")
    assert password.exit_code == 0 and "one-time console password" in password.stdout
    issued = _events(data, key, "admin:operator:link_issued")[-1]
    assert issued["actor"] == "cli:local"
