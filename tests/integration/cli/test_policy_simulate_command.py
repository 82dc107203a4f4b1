"""``custos policy simulate FILE --since/--until [--changed] [--json]`` through
typer's CliRunner, on a data folder holding real cases opened under the default
policy: the table, the JSON, the refusal of an invalid candidate with its lines,
and a database left exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from simulation_world import STRICTER, assert_unchanged, seed_cases, snapshot
from typer.testing import CliRunner, Result

from conftest import START, World
from custos.bootstrap import bootstrap
from custos.cli.main import app
from custos.clock import ManualClock
from custos.config import load_settings
from custos.credentials.keys import MasterKey

#: The seeded cases open on 2027-01-04 (olga's on 2026-11-25, outside).
PERIOD = ("--since", "2026-12-15", "--until", "2027-01-04")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[tuple[Path, str, World]]:
    """A data folder the CLI uses, with the seeded cases (through the services
    on the same settings, on a clock set at the tests' start)."""
    key = MasterKey.generate().to_b64()
    clock = ManualClock(START)
    settings = load_settings(None, data_dir=tmp_path, sealing_key=key)
    world = World(svc=bootstrap(settings, clock=clock, migrate=True), clock=clock, outbox=tmp_path)
    seed_cases(world)
    yield tmp_path, key, world
    world.svc.engine.dispose()


def run(folder: tuple[Path, str, World], *args: str) -> Result:
    tmp, key, _ = folder
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": key,
        "CUSTOS_CONFIG": None,
        "CUSTOS_DATABASE_URL": None,
        "CUSTOS_OUTBOX_DIR": None,
        "CUSTOS_SEALING_KEY_FILE": None,
        "COLUMNS": "240",  # wide enough for rich to keep each row on one line
    }
    return CliRunner().invoke(app, ["--data-dir", str(tmp), *args], env=env)


def candidate(tmp: Path, text: str, name: str = "candidate.yaml") -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _row(stdout: str, case_id: str) -> str:
    (line,) = [line for line in stdout.splitlines() if case_id in line and "│" in line]
    return line


def test_the_table_shows_each_case_and_the_totals(folder: tuple[Path, str, World]) -> None:
    tmp, _, world = folder
    opened = seed_ids(world)
    result = run(folder, "policy", "simulate", candidate(tmp, STRICTER), *PERIOD)
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert "5 case(s) opened from 2026-12-15 00:00 to 2027-01-05 00:00 UTC, replayed under" in out
    alice = _row(out, opened["alice"])
    assert "stricter" in alice and "factors 1 → 2; approvals 0 → 1" in alice
    assert "current" in alice
    bob = _row(out, opened["bob"])
    assert "contractor (channel_refused)" in bob and "newly_refused" in bob
    dave = _row(out, opened["dave"])
    assert "frozen (blocked)" in dave and "unchanged" in dave
    assert opened["olga"] not in out
    totals = {
        cells[0]: cells[1]
        for line in out.splitlines()
        if (cells := [c.strip() for c in line.strip("│ ").split("│")]) and len(cells) == 2
    }
    assert totals["stricter"] == "1" and totals["newly_refused"] == "1"
    assert totals["unchanged"] == "3" and totals["all cases"] == "5"
    assert totals["more proofing"] == "1" and totals["more approvals"] == "1"
    assert "a case does not record its subject's attributes" in out


def test_changed_lists_only_the_cases_the_candidate_changes(
    folder: tuple[Path, str, World],
) -> None:
    tmp, _, world = folder
    opened = seed_ids(world)
    result = run(folder, "policy", "simulate", candidate(tmp, STRICTER), *PERIOD, "--changed")
    assert result.exit_code == 0, result.output + result.stderr
    assert "2 cases the candidate changes" in result.stdout
    listed = [n for n, case_id in opened.items() if case_id in result.stdout]
    assert sorted(listed) == ["alice", "bob"]


def test_json_holds_every_case_and_the_totals(folder: tuple[Path, str, World]) -> None:
    tmp, _, world = folder
    opened = seed_ids(world)
    result = run(folder, "policy", "simulate", candidate(tmp, STRICTER), *PERIOD, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads(result.stdout)
    assert report["since"] == "2026-12-15T00:00:00+00:00"
    assert report["until"] == "2027-01-05T00:00:00+00:00"
    assert report["candidate"]["source"].endswith("candidate.yaml")
    effects = {c["case"]: c["effect"] for c in report["cases"]}
    assert effects == {
        opened["alice"]: "stricter",
        opened["bob"]: "newly_refused",
        opened["carol"]: "unchanged",
        opened["dave"]: "unchanged",
        opened["erin"]: "unchanged",
    }
    assert report["totals"]["more_approvals"] == 1
    alice = next(c for c in report["cases"] if c["case"] == opened["alice"])
    assert alice["attributes"] == "current attributes (a case does not record them)"


def test_an_invalid_candidate_is_refused_line_by_line_and_nothing_runs(
    folder: tuple[Path, str, World],
) -> None:
    tmp, _, world = folder
    before = snapshot(world)
    broken = STRICTER.replace("  case_ttl: 24h", "  case_ttl: 24h\n  colour: blue")
    line = STRICTER[: STRICTER.index("  case_ttl: 24h")].count("\n") + 2
    path = candidate(tmp, broken, "broken.yaml")
    result = run(folder, "policy", "simulate", path, *PERIOD)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"{path}:{line}: defaults: unknown key 'colour'"
    # The valid run changes nothing either.
    assert run(folder, "policy", "simulate", candidate(tmp, STRICTER), *PERIOD).exit_code == 0
    assert_unchanged(before, world)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last week"), "--since is a duration back from now"),
        (("--since", "2027-01-04", "--until", "2027-01-01"), "--until must be after --since"),
    ],
)
def test_a_bad_period_is_refused_with_its_error_id(
    folder: tuple[Path, str, World], args: tuple[str, ...], message: str
) -> None:
    tmp, _, _ = folder
    result = run(folder, "policy", "simulate", candidate(tmp, STRICTER), *args)
    assert result.exit_code == 1
    assert "error [invalid_input]" in result.stderr and message in result.stderr


def seed_ids(world: World) -> dict[str, str]:
    """Each seeded subject's case id, read back from the store."""
    with world.svc.uow(read_only=True) as uow:
        rows = uow.cases.search(limit=100)
    return {r["subject_id"]: r["id"] for r in rows}
