"""The propagation benchmark still runs end to end against a real slapd and
prints every figure the README quotes (rates, ratios, CPU per operation). It
asserts the report's shape and that each side's CPU was measured, never a
speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "propagation.py"


def test_propagation_bench_reports_rates_ratios_and_cpu() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "-n", "40", "--concurrency", "4", "--store-breakdown"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "OpenLDAP (slapd, LDAPS, password modify): N=40" in out
    for label in ("raw writes, ldap3", "raw writes, python-ldap", "Custos propagation"):
        rate = re.search(rf"{re.escape(label)}\s*:\s*([\d.]+) /s", out)
        assert rate is not None and float(rate.group(1)) > 0, out
    # The target compares like with like: the same directory work in raw python-ldap.
    assert re.search(r"raw python-ldap, same work\s*:\s*[\d.]+ /s", out), out
    assert re.search(r"ratio Custos / same work\s*:\s*[\d.]+\s+\(target >= 0\.80\)", out), out
    assert re.search(r"worker CPU per recovery: [\d.]+ ms \(target <= 0\.60\)", out), out
    cpu = dict(
        (name, (float(client), float(server)))
        for name, client, server in re.findall(
            r"^\s+(Custos|ldap3|python-ldap)\s*: client\s+([\d.]+) \+ directory\s+([\d.]+)",
            out,
            re.MULTILINE,
        )
    )
    assert set(cpu) == {"Custos", "ldap3", "python-ldap"}, out
    # slapd's CPU is read from /proc (in clock ticks, so a short phase may show
    # none), never guessed: over the three phases it shows.
    assert sum(server for _, server in cpu.values()) > 0, out
    assert "Custos's CPU ceiling / baseline rate:" in out
    # The store's share: the worker's own SQL replayed raw on a copy of the
    # database (a replay out of order would fail, not wait), split by statement.
    floor = re.search(
        r"of which the store itself: ([\d.]+) ms \(raw sqlite3 replaying the (\d+) statements"
        r".*the directory client ([\d.]+) ms.*the rest (-?[\d.]+) ms",
        out,
    )
    assert floor is not None, out
    assert float(floor.group(1)) > 0 and int(floor.group(2)) > 0, out
    assert "the store's CPU by statement" in out and "INSERT INTO ledger (" in out, out


def test_propagation_bench_runs_with_a_second_worker_process() -> None:
    """``--worker-processes 2`` forks a second worker beside the bench's: the
    run still completes every case (it would hang or fail if a forked worker
    shared the parent's connections) and counts the CPU of both."""
    done = subprocess.run(
        [sys.executable, str(BENCH), "-n", "40", "--concurrency", "4", "--worker-processes", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "a forked worker" not in done.stderr, done.stderr[-2000:]
    cpu = re.search(r"worker CPU per recovery: ([\d.]+) ms", done.stdout)
    assert cpu is not None and float(cpu.group(1)) > 0, done.stdout
    # Only this process's SQL is recorded: no store share is claimed for two.
    assert "of which the store itself" not in done.stdout, done.stdout
    refused = subprocess.run(
        [sys.executable, str(BENCH), "--worker-processes", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "--worker-processes must be at least 1" in refused.stderr
