"""``custos policy simulate FILE --since/--until [--changed] [--json]`` through
typer's CliRunner, on a deployment holding real cases opened under the default
policy (SQLite and PostgreSQL): the table, the JSON, the refusal of an invalid
candidate with its lines, and a database left exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_cli
from simulation_world import STRICTER, assert_unchanged, seed_cases, snapshot
from typer.testing import Result

from conftest import World
from custos.cli import context

#: The seeded cases open on 2027-01-04 (olga's on 2026-11-25, outside).
PERIOD = ("--since", "2026-12-15", "--until", "2027-01-04")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console made afresh at 240 columns (rich reads COLUMNS when the console
    is made, once per process): each table row stays on one line."""
    monkeypatch.setenv("COLUMNS", "240")
    monkeypatch.setattr(context.console, "_made", None)


def run(world: World, *args: str) -> Result:
    return run_cli(world, "policy", "simulate", *args)


def candidate(world: World, text: str, name: str = "candidate.yaml") -> str:
    tmp = Path(world.svc.settings.data_dir)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _row(stdout: str, case_id: str) -> str:
    (line,) = [line for line in stdout.splitlines() if case_id in line and "│" in line]
    return line


def test_the_table_shows_each_case_and_the_totals(world: World) -> None:
    opened = seed_cases(world)
    result = run(world, candidate(world, STRICTER), *PERIOD)
    assert result.exit_code == 0, result.output + result.stderr
    out = result.stdout
    assert "5 case(s) opened from 2026-12-15 00:00 to 2027-01-05 00:00 UTC, replayed under" in out
    alice = _row(out, opened["alice"])
    assert "stricter" in alice and "factors 1 → 2; approvals 0 → 1" in alice
    assert "current" in alice
    bob = _row(out, opened["bob"])
    assert "contractor (channel_refused)" in bob and "newly_refused" in bob
    dave = _row(out, opened["dave"])
    assert "frozen (held)" in dave and "unchanged" in dave
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
    world: World,
) -> None:
    opened = seed_cases(world)
    result = run(world, candidate(world, STRICTER), *PERIOD, "--changed")
    assert result.exit_code == 0, result.output + result.stderr
    assert "2 cases the candidate changes" in result.stdout
    listed = [n for n, case_id in opened.items() if case_id in result.stdout]
    assert sorted(listed) == ["alice", "bob"]


def test_json_holds_every_case_and_the_totals(world: World) -> None:
    opened = seed_cases(world)
    result = run(world, candidate(world, STRICTER), *PERIOD, "--json")
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
    assert alice["attributes"] == (
        "current attributes (a case does not record them); "
        "holds as the hold records show them when the case opened"
    )


def test_an_invalid_candidate_is_refused_line_by_line_and_nothing_runs(
    world: World,
) -> None:
    seed_cases(world)
    before = snapshot(world)
    broken = STRICTER.replace("  case_ttl: 24h", "  case_ttl: 24h\n  colour: blue")
    line = STRICTER[: STRICTER.index("  case_ttl: 24h")].count("\n") + 2
    path = candidate(world, broken, "broken.yaml")
    result = run(world, path, *PERIOD)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"{path}:{line}: defaults: unknown key 'colour'"
    # The valid run changes nothing either.
    assert run(world, candidate(world, STRICTER), *PERIOD).exit_code == 0
    assert_unchanged(before, world)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last week"), "--since is a duration back from now"),
        (("--since", "2027-01-04", "--until", "2027-01-01"), "--until must be after --since"),
    ],
)
def test_a_bad_period_is_refused_with_its_error_id(
    world: World, args: tuple[str, ...], message: str
) -> None:
    result = run(world, candidate(world, STRICTER), *args)
    assert result.exit_code == 1
    assert "error [invalid_input]" in result.stderr and message in result.stderr
