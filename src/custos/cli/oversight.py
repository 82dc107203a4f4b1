"""``custos oversight report`` (docs/oversight.md): every operator's baseline
and the open anomaly alerts, with the ledger seqs that show each. Reads as the
local administrator; ``--detect`` runs the detection first (as the worker does
on its schedule)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from custos.cli.context import command_group, console, escape, failures, state

if TYPE_CHECKING:
    from custos.oversight.anomalies import Baseline

app = command_group("Operator oversight: baselines and anomaly alerts.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _baseline(b: Baseline) -> dict[str, Any]:
    return {
        "operator": b.operator,
        "actions": b.actions,
        "recoveries_per_day": round(b.recoveries_per_day, 2),
        "privileged_share": round(b.privileged_share, 3),
        "off_hours_share": round(b.off_hours_share, 3),
        "median_approval_seconds": b.median_approval_seconds,
        "top_pair": None if b.top_pair is None else list(b.top_pair),
        "approval_streak": b.approval_streak,
        "max_failures_before_success": b.max_failures_before_success,
        "usual_groups": sorted(b.usual_groups),
    }


@app.command("report")
def report(
    ctx: typer.Context,
    operator: Annotated[
        str | None, typer.Option("--operator", "-o", help="Only this operator (name).")
    ] = None,
    detect: Annotated[
        bool, typer.Option("--detect", help="Run the detection first (raises new alerts).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Baselines over the lookback period and the open alerts."""
    from rich.table import Table

    from custos.service.oversight import anomalies

    with failures():
        svc = state(ctx).services()
        if detect:
            anomalies.raise_alerts(svc)
        seen = anomalies.report(svc, operator=operator)
    baselines = [_baseline(b) for b in seen.baselines]
    alerts = anomalies.describe(seen.alerts)
    if as_json:
        console.print_json(json.dumps({"baselines": baselines, "alerts": alerts}))
        return
    table = Table(title=f"Baselines ({len(baselines)} operator(s))")
    for column in (
        "operator",
        "actions",
        "per day",
        "privileged",
        "off hours",
        "median approval (s)",
        "top requester",
        "streak",
    ):
        table.add_column(column)
    for b in baselines:
        pair = b["top_pair"]
        median = b["median_approval_seconds"]
        table.add_row(
            escape(b["operator"]),
            str(b["actions"]),
            f"{b['recoveries_per_day']:.2f}",
            f"{b['privileged_share']:.0%}",
            f"{b['off_hours_share']:.0%}",
            "-" if median is None else f"{median:.0f}",
            "-" if pair is None else escape(f"{pair[0]} ({pair[1]:.0%})"),
            str(b["approval_streak"]),
        )
    console.print(table)
    listed = Table(title=f"Open alerts ({len(alerts)})")
    for column in ("alert", "operator", "signal", "summary", "evidence (seq)", "raised (UTC)"):
        listed.add_column(column)
    for a in alerts:
        listed.add_row(
            a["id"],
            escape(a["operator"]),
            a["signal"],
            escape(a["summary"]),
            ", ".join(str(e["seq"]) for e in a["evidence"]),
            a["raised_at"][:16].replace("T", " "),
        )
    console.print(listed)
