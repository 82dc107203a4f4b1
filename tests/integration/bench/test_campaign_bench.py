"""The campaign benchmark still runs end to end against a real slapd and
prints every figure the README quotes (both rates, their ratio, CPU per
subject on both sides). It asserts the report's shape and that the campaign
completed every subject, never a speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "campaign.py"


def test_campaign_bench_reports_rates_ratio_and_cpu() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--subjects", "30", "--concurrency", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "OpenLDAP campaign (slapd, LDAPS, force-reset): N=30" in out
    assert re.search(r"Custos campaign\s*:\s*[\d.]+ subjects/s\s+\(30 completed\)", out), out
    assert re.search(r"raw python-ldap, modify \+ read-back\s*:\s*[\d.]+ subjects/s", out), out
    assert re.search(r"ratio Custos / raw\s*:\s*[\d.]+\s+\(target >= 0\.80\)", out), out
    cpu = re.findall(r"^\s+(Custos|raw)\s*: client\s+([\d.]+) \+ directory\s+([\d.]+)", out, re.M)
    assert {name for name, _, _ in cpu} == {"Custos", "raw"}, out
    # The store's share: the phase's SQL replayed raw on a copy of the database.
    store = re.search(
        r"the store itself: ([\d.]+) ms \(raw sqlite3 replaying the (\d+) statements", out
    )
    assert store is not None and float(store.group(1)) > 0 and int(store.group(2)) > 0, out
