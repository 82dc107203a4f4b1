"""``custos demo --tour`` as a user runs it: a real process on a free port, a fresh
data folder, SQLite and the built-in directory. The tour runs once per module;
the tests then inspect what it left behind through the real CLI and the database."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from custos.store.tables import holds, subjects

TIMEOUT_S = 180
RESET_TOKEN = re.compile(r"crt_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


@dataclass(frozen=True)
class Tour:
    cwd: Path
    data: Path
    port: int
    result: subprocess.CompletedProcess[str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def custos(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "custos.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    cwd = tmp_path_factory.mktemp("demo")
    data = cwd / "data"
    port = free_port()
    result = custos(cwd, "--data-dir", str(data), "demo", "--tour", "--port", str(port))
    return Tour(cwd=cwd, data=data, port=port, result=result)


def test_demo_tour_completes_with_exit_zero(tour: Tour) -> None:
    out = tour.result.stdout
    assert tour.result.returncode == 0, out[-3000:] + tour.result.stderr[-3000:]
    assert "tour complete" in out
    assert "tour failed" not in out
    # Both stories render their case; each ends completed.
    assert out.count("completed") >= 2
    assert "bob" in out and "root.ops" in out
    assert f"127.0.0.1:{tour.port}" in out


def test_demo_tour_without_running_demo_says_it_runs_alone_and_cleans_up(tour: Tour) -> None:
    """With no demo answering, the tour starts its own, says so plainly, and
    leaves no record of a running demo behind when it stops."""
    assert tour.result.returncode == 0
    assert f"No demo answers at http://127.0.0.1:{tour.port}: the tour runs alone" in (
        tour.result.stdout
    )
    assert not (tour.data / "demo-run.json").exists()


def test_demo_tour_data_folder_holds_database_and_private_key(tour: Tour) -> None:
    assert tour.result.returncode == 0
    key = tour.data / "sealing.key"
    assert (tour.data / "custos.db").is_file()
    assert key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_demo_tour_database_not_readable_by_others(tour: Tour) -> None:
    """The database holds contacts, sealed enrolments and token digests: like the
    key beside it, it is for the owner only."""
    assert tour.result.returncode == 0
    db = tour.data / "custos.db"
    assert stat.S_IMODE(db.stat().st_mode) & 0o077 == 0, oct(db.stat().st_mode)


def test_demo_tour_case_list_json_shows_two_completed_cases(tour: Tour) -> None:
    assert tour.result.returncode == 0
    listing = custos(tour.cwd, "--data-dir", str(tour.data), "case", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    completed = [r for r in rows if r["state"] == "completed"]
    assert len(completed) >= 2, rows
    assert {"self_service", "helpdesk"} <= {r["channel"] for r in completed}


def test_demo_tour_outbox_lists_reset_link_messages(tour: Tour) -> None:
    assert tour.result.returncode == 0
    listing = custos(tour.cwd, "--data-dir", str(tour.data), "outbox", "--last", "50")
    assert listing.returncode == 0, listing.stderr
    assert "is empty" not in listing.stdout
    assert "Complete your account recovery" in listing.stdout
    assert "reset_link" in listing.stdout, listing.stdout[:2000]


def test_demo_tour_outbox_prints_reset_links_whole(tour: Tour) -> None:
    """``custos outbox`` is the demo's inbox: the one-time link must survive
    printing (piped output is 80 columns) so that it can be opened."""
    assert tour.result.returncode == 0
    listing = custos(tour.cwd, "--data-dir", str(tour.data), "outbox", "--last", "50")
    assert listing.returncode == 0
    assert "#token=crt_" in listing.stdout
    links = re.findall(r"/reset#token=(\S+)", listing.stdout)
    assert links and all(RESET_TOKEN.fullmatch(t) for t in links), links
    # Recovery notices carry "this wasn't me" links; they must survive too.
    repudiations = re.findall(r"/repudiate#token=(\S+)", listing.stdout)
    assert repudiations and all(re.fullmatch(r"crp_[A-Za-z0-9_-]{43}", t) for t in repudiations), (
        repudiations
    )


def test_demo_tour_reset_links_point_at_running_demo(tour: Tour) -> None:
    """With ``--port`` and no configured origin, the links the demo mails lead to
    the demo itself."""
    assert tour.result.returncode == 0
    bodies = [
        json.loads(f.read_text())["body"]
        for f in sorted((tour.data / "outbox").iterdir())
        if f.suffix == ".json"
    ]
    links = [b for b in bodies if "#token=" in b]
    assert links, "no reset link was sent"
    assert all(f"://127.0.0.1:{tour.port}/" in b for b in links), links[0]


def test_demo_seed_organisation_covers_kinds_and_holds(tour: Tour) -> None:
    assert tour.result.returncode == 0
    engine = create_engine(f"sqlite:///{tour.data / 'custos.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(subjects.c.kind)).all()
            kinds_held = set(conn.execute(select(holds.c.kind)).scalars())
    finally:
        engine.dispose()
    assert len(rows) >= 30
    kinds = Counter(r.kind for r in rows)
    assert {"human", "service", "shared"} <= set(kinds)
    assert {"legal_hold", "incident_freeze"} <= kinds_held
