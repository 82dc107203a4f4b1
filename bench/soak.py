"""Soak under load: two API processes and two workers on a fresh PostgreSQL
database, a mixed load from Locust (headless) for a bounded time, one API
process and one worker SIGKILLed and restarted halfway, then proof that
nothing was lost or doubled.

Prints throughput, p50/p95/p99 per operation, answers other than success by
operation, status and error id (expected refusals marked), the flows'
outcomes, and the invariants: cases final or accounted for, receipts final,
directory password writes equal to succeeded receipts (counted by a trigger
outside Custos), each account's password the one last chosen, and
``custos audit verify``. Exits 1 when an invariant fails.

    uv run --frozen --all-extras --all-groups python bench/soak.py                 # 10 minutes
    uv run --frozen --all-extras --all-groups python bench/soak.py --duration 120 --users 6
    uv run ... python bench/soak.py --no-kill --json soak.json
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from custos.credentials.keys import MasterKey

sys.path.insert(0, str(Path(__file__).resolve().parent))

import soak_cluster as cluster_mod
import soak_invariants as invariants

LOCUSTFILE = Path(__file__).resolve().parent / "soak_locustfile.py"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds of load (default 600)")
    parser.add_argument("--users", type=int, default=10, help="simulated users (default 10)")
    parser.add_argument("--spawn-rate", type=float, default=2.0, help="users started per second")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("CUSTOS_SOAK_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="a PostgreSQL URL allowed to CREATE DATABASE (a fresh one is made per run)",
    )
    parser.add_argument("--no-kill", action="store_true", help="no SIGKILL halfway")
    parser.add_argument("--keep", action="store_true", help="keep the database and run folder")
    parser.add_argument("--drain-timeout", type=int, default=180, help="seconds to let work finish")
    parser.add_argument("--json", type=Path, help="also write the whole report as JSON here")
    return parser.parse_args()


def run_locust(
    args: argparse.Namespace, folder: Path, soak_config: Path
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SOAK_CONFIG=str(soak_config))
    log = (folder / "logs" / "locust.log").open("ab")
    return subprocess.Popen(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", str(args.users), "-r", str(args.spawn_rate),
            "--run-time", f"{args.duration}s", "--stop-timeout", "0",
            "--csv", str(folder / "locust"), "--only-summary", "--loglevel", "WARNING",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def latency(folder: Path) -> list[dict[str, Any]]:
    """Locust's per-operation figures (requests, failures, req/s, p50/p95/p99 in ms)."""
    path = folder / "locust_stats.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [
            {
                "operation": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "per_s": float(row["Requests/s"]),
                "p50": row["50%"],
                "p95": row["95%"],
                "p99": row["99%"],
            }
            for row in csv.DictReader(fh)
        ]


def audit_verify(cluster: cluster_mod.Cluster) -> tuple[bool, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "custos.cli.main",
            "--config",
            str(cluster.config),
            "audit",
            "verify",
        ],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip().splitlines()[-1:][0] if (
        done.stdout + done.stderr
    ).strip() else ""


def soak(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = cluster_mod.fresh_database(args.admin_url)
    report: dict[str, Any] = {"database": url.rsplit("/", 1)[-1], "duration_s": args.duration}
    try:
        key = MasterKey.generate().to_b64()
        config = cluster_mod.write_config(folder, url)
        pools = cluster_mod.seed(config, key, args.users)
        cluster = cluster_mod.Cluster(
            config=config,
            env=cluster_mod.environment(key),
            logs=folder / "logs",
            ports=[cluster_mod.free_port(), cluster_mod.free_port()],
        )
        cluster.start()
        try:
            journal = folder / "journal.jsonl"
            soak_config = folder / "soak.json"
            settings = cluster_mod.pools_json(pools, cluster, folder / "outbox", journal)
            settings["errors"] = str(folder / "errors.json")
            cluster_mod.dump(soak_config, settings)
            started = time.monotonic()
            locust = run_locust(args, folder, soak_config)
            if not args.no_kill:
                locust_wait(locust, args.duration / 2)
                if locust.poll() is None:
                    report["killed_at_s"] = round(time.monotonic() - started, 1)
                    report["killed"] = cluster.kill_and_restart(
                        lambda pid: invariants.held_by(url, pid)
                    )
            locust_wait(locust, args.duration + 120)
            if locust.poll() is None:
                locust.kill()
            report["load_s"] = round(time.monotonic() - started, 1)
            engine = create_engine(url)
            report["drain_s"] = round(invariants.drain(engine, args.drain_timeout), 1)
            report["crashed"] = cluster.crashed()
        finally:
            cluster.stop()
        report["operations"] = latency(folder)
        errors_path = folder / "errors.json"
        report["errors"] = json.loads(errors_path.read_text()) if errors_path.exists() else []
        report["invariants"] = invariants.check(
            engine,
            invariants.Journal.read(journal),
            in_flight=report.get("killed", {}).get("in_flight", []),
        )
        engine.dispose()
        ok, line = audit_verify(cluster)
        report["audit_verify"] = {"ok": ok, "output": line}
        if not ok:
            report["invariants"]["violations"].append(f"custos audit verify failed: {line}")
        if report.get("killed", {}).get("api_back_after_s", 0) is None:
            report["invariants"]["violations"].append(
                f"api0 did not answer again within {cluster_mod.RESTART_TIMEOUT_S} s of its restart"
            )
        if report["crashed"]:
            report["invariants"]["violations"].append(
                f"processes died by themselves: {report['crashed']}"
            )
    finally:
        if not args.keep:
            cluster_mod.drop_database(args.admin_url, url)
    return report


def locust_wait(process: subprocess.Popen[bytes], seconds: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=seconds)


def print_report(report: dict[str, Any]) -> None:
    inv = report["invariants"]
    print(f"soak on PostgreSQL ({report['database']}): 2 API processes, 2 workers, "
          f"{report['duration_s']} s of load")  # fmt: skip
    if "killed" in report:
        killed = report["killed"]
        print(
            f"SIGKILLed at {report['killed_at_s']} s: api0 (pid {killed['api0']}), worker0 "
            f"(pid {killed['worker0']}); both restarted, the API answered again after "
            + (
                f"{killed['api_back_after_s']} s"
                if killed["api_back_after_s"] is not None
                else "NO ANSWER within the wait"
            )
        )
    total = [o for o in report["operations"] if o["operation"] == "Aggregated"]
    if total:
        print(f"throughput: {total[0]['per_s']:.2f} requests/s over the run")
    print(
        f"{'operation':<18}{'requests':>9}{'failed':>8}{'req/s':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    for o in report["operations"]:
        print(
            f"{o['operation']:<18}{o['requests']:>9}{o['failures']:>8}{o['per_s']:>8.2f}"
            f"{o['p50']:>9}{o['p95']:>9}{o['p99']:>9}"
        )
    print("answers other than success (operation, status, error id):")
    for e in report["errors"] or [
        {"operation": "-", "status": "", "error": "none", "expected": True, "count": 0}
    ]:
        if e["expected"]:
            mark = "expected refusal"
        elif e["error"].endswith("(retried)"):
            mark = "process killed; sent once to the other API"
        else:
            mark = "UNEXPECTED"
        print(f"  {e['operation']:<18}{e['status']!s:>5} {e['error']:<24}{e['count']:>7}  {mark}")
    print(f"flows: {inv['flow_outcomes']}")
    print(
        f"cases: {inv['cases']} {inv['cases_by_state']}; open and accounted for: "
        f"{inv['open_cases_accounted']}; self-service cases tied to no flow: {inv['orphan_cases']}"
    )
    print(f"receipts: {inv['receipts_by_state']} (drain {report['drain_s']} s)")
    print(
        f"directory password writes: {inv['password_writes']} "
        f"on {inv['accounts_written']} accounts; "
        f"succeeded receipts: {inv['succeeded_receipts']}; redeemed flows: {inv['redeemed_flows']}"
    )
    if "killed" in report:
        print(
            f"receipts the killed worker held: {len(report['killed'].get('in_flight', []))}; "
            f"accounts written again after the kill (the same secret, by the worker that "
            f"took the receipt over): {inv['rewritten_after_kill']}"
        )
    verdict = "passed" if report["audit_verify"]["ok"] else "FAILED"
    print(f"audit verify: {verdict}: {report['audit_verify']['output']}")
    if inv["violations"]:
        print("INVARIANTS VIOLATED:")
        for v in inv["violations"]:
            print(f"  - {v}")
    else:
        print("invariants: all hold (nothing lost, nothing doubled)")


def main() -> int:
    args = arguments()
    folder = Path(tempfile.mkdtemp(prefix="custos-soak-"))
    report = soak(args, folder)
    report["folder"] = str(folder)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.keep:
        print(f"kept: {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return 1 if report["invariants"]["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
