"""The CLI start-up benchmark still runs end to end on seeded demo data and
prints every figure the README quotes (medians and ratios against ``python -c
pass`` with their targets). It asserts the report's shape, never a speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "cli.py"
ROW = r"^{name}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*(.*)$"


def test_cli_bench_reports_medians_and_ratios_against_bare_python() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "-n", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "demo data with 12 cases" in out, out
    assert "compiled (bytecode cached" in out, out
    for name, target in (
        ("python -c pass", None),
        ("custos --help", 5),
        ("custos case list", 15),
        ("floor: typer", None),
        ("floor: +settings+db", None),
    ):
        rows = re.findall(ROW.format(name=re.escape(name)), out, re.MULTILINE)
        assert rows, out
        for median, fastest, ratio, verdict in rows:
            assert float(median) > 0 and float(fastest) > 0 and float(ratio) > 0, out
            if name == "python -c pass":
                assert float(ratio) == 1.0
            if target is not None:
                assert re.fullmatch(rf"<= {target}x: (OK|OVER TARGET)", verdict), verdict
