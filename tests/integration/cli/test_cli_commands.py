"""The ``custos`` command through typer's CliRunner: each test has its own data
folder (``--data-dir``) and a sealing key in CUSTOS_SEALING_KEY, so nothing leaks
between tests or into the working directory."""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_runner import open_bobs_case
from typer.testing import CliRunner, Result

from custos.bootstrap import bootstrap
from custos.cli.main import app
from custos.clock import ManualClock
from custos.config import load_settings
from custos.credentials.keys import MasterKey
from custos.domain.errors import NotAuthorized
from custos.domain.model import Role
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.service.ports import Services
from custos.service.recovery.operators import authenticate

TOKEN_RE = re.compile(r"\bcop_[A-Za-z0-9_-]{43}\b")


@pytest.fixture
def key() -> str:
    return MasterKey.generate().to_b64()


def run(tmp: Path, key: str | None, *args: str) -> Result:
    # The runner's env is merged into os.environ (None unsets): no ambient
    # configuration or key leaks in from the developer's shell.
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": key,
        "CUSTOS_CONFIG": None,
        "CUSTOS_DATABASE_URL": None,
        "CUSTOS_OUTBOX_DIR": None,
        "CUSTOS_SEALING_KEY_FILE": None,
    }
    return CliRunner().invoke(app, ["--data-dir", str(tmp), *args], env=env)


def upgraded(tmp: Path, key: str) -> None:
    result = run(tmp, key, "db", "upgrade")
    assert result.exit_code == 0, result.output + result.stderr


def services(tmp: Path, key: str, clock: ManualClock | None = None) -> Services:
    """Services on the same settings the CLI uses for ``--data-dir tmp``."""
    settings = load_settings(None, data_dir=tmp, sealing_key=key)
    return bootstrap(settings, clock=clock)


# -- db / keys ------------------------------------------------------------------


def test_db_upgrade_creates_database_in_data_dir(tmp_path: Path, key: str) -> None:
    result = run(tmp_path, key, "db", "upgrade")
    assert result.exit_code == 0, result.output + result.stderr
    assert "newest revision" in result.stdout
    db = tmp_path / "custos.db"
    assert db.is_file() and db.stat().st_size > 0
    # Running it again is harmless.
    assert run(tmp_path, key, "db", "upgrade").exit_code == 0


def test_keys_generate_writes_private_file_and_refuses_overwrite(tmp_path: Path) -> None:
    first = run(tmp_path, None, "keys", "generate")
    assert first.exit_code == 0, first.output + first.stderr
    path = tmp_path / "sealing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_text()
    MasterKey.from_b64(content.strip())  # a valid key

    second = run(tmp_path, None, "keys", "generate")
    assert second.exit_code == 1
    assert "key_exists" in second.stderr
    assert path.read_text() == content, "the existing key must not be touched"


def test_keys_generate_key_file_is_usable_by_other_commands(tmp_path: Path) -> None:
    assert run(tmp_path, None, "keys", "generate").exit_code == 0
    # No CUSTOS_SEALING_KEY: the key file in the data folder is used.
    upgrade = run(tmp_path, None, "db", "upgrade")
    assert upgrade.exit_code == 0
    listing = run(tmp_path, None, "case", "list")
    assert listing.exit_code == 0, listing.output + listing.stderr
    assert "0 case(s)" in listing.stdout


# -- policy check ---------------------------------------------------------------


def test_policy_check_default_policy_exits_zero(tmp_path: Path) -> None:
    result = run(tmp_path, None, "policy", "check", str(DEFAULT_POLICY_PATH))
    assert result.exit_code == 0, result.output + result.stderr
    assert "valid" in result.stdout
    assert "sha256:" in result.stdout
    assert "frozen" in result.stdout and "catch-all" in result.stdout


def _broken_policy(tmp: Path, old: str, new: str) -> tuple[Path, int]:
    """Copy the default policy with ``old`` (a unique line fragment) replaced;
    return the file and the 1-based line of the change."""
    text = DEFAULT_POLICY_PATH.read_text()
    assert text.count(old) == 1, old
    line = text[: text.index(old)].count("\n") + 1
    path = tmp / "broken.yaml"
    path.write_text(text.replace(old, new))
    return path, line


def test_policy_check_unknown_key_reports_file_and_line(tmp_path: Path) -> None:
    path, line = _broken_policy(tmp_path, "  case_ttl: 24h", "  case_ttl: 24h\n  colour: blue")
    result = run(tmp_path, None, "policy", "check", str(path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines, "no problem printed"
    assert any(ln.startswith(f"{path}:{line + 1}: ") and "colour" in ln for ln in lines), (
        result.stderr
    )
    assert "valid" not in result.stdout


def test_policy_check_bad_duration_reports_file_and_line(tmp_path: Path) -> None:
    path, line = _broken_policy(tmp_path, "  approval_expiry: 4h", "  approval_expiry: soon")
    result = run(tmp_path, None, "policy", "check", str(path))
    assert result.exit_code == 1
    assert re.search(rf"^{re.escape(str(path))}:{line}: .*soon", result.stderr, re.M), result.stderr


def test_policy_check_missing_file_exits_one(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = run(tmp_path, None, "policy", "check", str(missing))
    assert result.exit_code == 1
    assert f"{missing}:1:" in result.stderr


# -- operators ------------------------------------------------------------------


def test_operator_add_prints_token_once_and_refuses_duplicate_name(
    tmp_path: Path, key: str
) -> None:
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "operator", "add", "dana", "--role", "requester", "--scope", "*")
    assert result.exit_code == 0, result.output + result.stderr
    tokens = TOKEN_RE.findall(result.stdout)
    assert len(tokens) == 1, result.stdout
    assert result.stdout.count("cop_") == 1
    assert "cop_" not in result.stderr
    operator = authenticate(services(tmp_path, key), tokens[0])
    assert operator.name == "dana"
    assert operator.roles == frozenset({Role.REQUESTER})
    assert operator.scope == frozenset({"*"})

    again = run(tmp_path, key, "operator", "add", "dana", "--role", "requester", "--scope", "*")
    assert again.exit_code == 1
    assert "invalid_input" in again.stderr
    assert "cop_" not in again.stdout + again.stderr


def test_operator_add_unknown_role_exits_non_zero(tmp_path: Path, key: str) -> None:
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "operator", "add", "eve", "--role", "overlord", "--scope", "*")
    assert result.exit_code != 0
    assert "cop_" not in result.stdout
    assert "overlord" in result.stderr


def test_operator_rotate_token_invalidates_old_token(tmp_path: Path, key: str) -> None:
    upgraded(tmp_path, key)
    added = run(tmp_path, key, "operator", "add", "dana", "--role", "approver", "--scope", "*")
    assert added.exit_code == 0, added.output + added.stderr
    (old,) = TOKEN_RE.findall(added.stdout)

    rotated = run(tmp_path, key, "operator", "rotate-token", "dana")
    assert rotated.exit_code == 0, rotated.output + rotated.stderr
    (new,) = TOKEN_RE.findall(rotated.stdout)
    assert new != old

    svc = services(tmp_path, key)
    assert authenticate(svc, new).name == "dana"
    with pytest.raises(NotAuthorized):
        authenticate(svc, old)


def test_operator_rotate_token_unknown_name_exits_not_found(tmp_path: Path, key: str) -> None:
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "operator", "rotate-token", "ghost")
    assert result.exit_code == 1
    assert "not_found" in result.stderr
    assert "cop_" not in result.stdout


# -- cases ----------------------------------------------------------------------


def test_case_list_empty_database_prints_zero_cases(tmp_path: Path, key: str) -> None:
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "case", "list")
    assert result.exit_code == 0, result.output + result.stderr
    assert "0 case(s)" in result.stdout


def test_case_list_unknown_state_exits_invalid_input(tmp_path: Path, key: str) -> None:
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "case", "list", "--state", "bogus")
    assert result.exit_code == 1
    assert "invalid_input" in result.stderr
    assert "bogus" in result.stderr


@pytest.mark.parametrize("value", ["[/x]", "a[red]b"])
def test_case_list_markup_like_state_exits_invalid_input_verbatim(
    tmp_path: Path, key: str, value: str
) -> None:
    """User input echoed in an error is printed as text, never as rich markup:
    no crash on an unmatched closing tag, nothing swallowed."""
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "case", "list", "--state", value)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "invalid_input" in result.stderr
    assert f"'{value}'" in result.stderr


def test_case_show_unknown_id_exits_not_found(tmp_path: Path, key: str) -> None:
    upgraded(tmp_path, key)
    result = run(tmp_path, key, "case", "show", "case-does-not-exist")
    assert result.exit_code == 1
    assert "not_found" in result.stderr


def test_cli_without_sealing_key_exits_with_config_error(tmp_path: Path) -> None:
    result = run(tmp_path, None, "case", "list")
    assert result.exit_code == 1
    assert "config_invalid" in result.stderr
    assert "custos keys generate" in result.stderr


@pytest.fixture
def opened_case(tmp_path: Path, key: str) -> str:
    """A help-desk case opened through the service layer on the CLI's database."""
    upgraded(tmp_path, key)
    return open_bobs_case(services(tmp_path, key, clock=ManualClock(datetime.now(UTC))))


def test_case_show_existing_case_prints_timeline(
    tmp_path: Path, key: str, opened_case: str
) -> None:
    result = run(tmp_path, key, "case", "show", opened_case)
    assert result.exit_code == 0, result.output + result.stderr
    assert opened_case in result.stdout
    assert "bob" in result.stdout
    assert "case:opened" in result.stdout  # the timeline drops the repeated source


def test_case_show_json_is_valid_json(tmp_path: Path, key: str, opened_case: str) -> None:
    result = run(tmp_path, key, "case", "show", opened_case, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    detail = json.loads(result.stdout)
    assert detail["id"] == opened_case
    assert detail["subject"]["id"] == "bob"
    assert "case:case:opened" in [e["type"] for e in detail["timeline"]]


def test_case_list_json_after_case_is_valid_json(
    tmp_path: Path, key: str, opened_case: str
) -> None:
    result = run(tmp_path, key, "case", "list", "--json")
    assert result.exit_code == 0, result.output + result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and len(rows) == 1
    assert rows[0]["id"] == opened_case
    assert rows[0]["subject_id"] == "bob"
    assert rows[0]["channel"] == "helpdesk"

    by_subject = run(tmp_path, key, "case", "list", "--json", "--subject", "nobody")
    assert json.loads(by_subject.stdout) == []


def test_case_list_table_shows_whole_case_id_at_80_columns(
    tmp_path: Path, key: str, opened_case: str
) -> None:
    """The id is what ``custos case show`` needs: the table (80 columns when
    piped) must not cut it short."""
    table = run(tmp_path, key, "case", "list")
    assert table.exit_code == 0
    assert "1 case(s)" in table.stdout
    assert "bob" in table.stdout
    assert opened_case in table.stdout, table.stdout


def test_tables_and_the_timeline_into_a_pipe_keep_every_value_whole_on_its_line(
    tmp_path: Path, key: str, opened_case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into a pipe or a file (rich assumes 80 columns there) a table is printed
    at its own width: before, ``case list`` cut values short (``proof…``,
    ``stand…``, ``self_…``) and broke rows over lines, and ``case show`` cut the
    policy hash; ``grep`` found neither."""
    monkeypatch.delenv("COLUMNS", raising=False)
    listed = run(tmp_path, key, "case", "list")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.stdout.splitlines() if opened_case in line]
    assert re.search(r"\bbob\b.*\bproofing\b.*\bstandard\b.*\bhelpdesk\b", row), row
    assert "…" not in listed.stdout
    shown = run(tmp_path, key, "case", "show", opened_case)
    detail = json.loads(run(tmp_path, key, "case", "show", opened_case, "--json").stdout)
    assert detail["policy_hash"] in shown.stdout
    [opened] = [line for line in shown.stdout.splitlines() if "case:opened" in line]
    assert "caller lost phone" in opened  # the event's detail on the event's line


# -- outbox ---------------------------------------------------------------------


def test_outbox_empty_folder_says_empty(tmp_path: Path, key: str) -> None:
    (tmp_path / "outbox").mkdir()
    result = run(tmp_path, key, "outbox")
    assert result.exit_code == 0, result.output + result.stderr
    assert "is empty" in result.stdout


def test_outbox_missing_folder_says_empty(tmp_path: Path) -> None:
    result = run(tmp_path, None, "outbox", "--last", "5")
    assert result.exit_code == 0, result.output + result.stderr
    assert "is empty" in result.stdout
