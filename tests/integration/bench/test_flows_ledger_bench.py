"""The flows benchmark's HTTP face and the ledger verification benchmark still
run end to end and print every figure the README quotes, each beside the load
average. They assert the report's shape and that every flow completed, never a
speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
LOAD = r"loadavg \d+\.\d+ \d+\.\d+ \d+\.\d+"


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_flows_bench_drives_recoveries_through_the_api_with_and_without_the_floor() -> None:
    out = _run(str(BENCH / "flows.py"), "-n", "3", "--face", "http", "--callers", "3")
    assert "3 concurrent callers" in out, out
    assert re.search(rf"raw password writes \(3 threads.*\): [\d.,]+/s; {LOAD}", out), out
    runs = re.findall(
        rf"^(with the equal-time floor \(250 ms\)|without the floor .*?): 3 flows in [\d.]+s "
        rf"= [\d.]+ flows/s \([\d.]+ of the raw write rate\); {LOAD}$",
        out,
        re.MULTILINE,
    )
    assert len(runs) == 2, out
    assert len(re.findall(r"whole flow p50 [\d,]+ ms, p95 [\d,]+ ms", out)) == 2, out
    assert "at least 0 ms of every flow" in out, out
    assert re.search(r"floor 250 ms on each of [\d.]+ .* at least [\d,]+ ms", out), out
    for step in ("start", "email-code", "code mail", "proof", "link mail", "new password"):
        assert len(re.findall(rf"^  {step}\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE)) == 2, out
    assert "FAILED" not in out and "failed" not in out, out


def test_ledger_bench_prints_verify_and_raw_rates_with_their_ratio_and_load(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    out = _run(
        str(BENCH / "ledger.py"),
        *("--entries", "3000", "--appends", "20", "--rounds", "2", "--database-url", url),
    )
    for name in ("raw sha256", "read-only", "verify"):
        assert re.search(rf"  {name}\s+best [\d.]+s = [\d,]+ entries/s .* {LOAD}", out), out
    assert re.search(r"verify / raw = [\d.]+ \(target 0.5\)", out), out
    assert re.search(rf"^append: .* of plain; {LOAD}$", out, re.MULTILINE), out
