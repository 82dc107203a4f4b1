"""``custos incident start|stop|list``: declare a security incident for everyone
or for one subject group. While one runs, every recovery opened for a subject
in its scope carries the ``incident_in_progress`` risk signal."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from custos.cli.context import command_group, console, escape, failures, state

app = command_group("Security incidents (a risk signal on every recovery).")

GroupOpt = Annotated[
    str | None, typer.Option("--group", "-g", help="Subject group; omit for a global incident.")
]


def _admin() -> str:
    return f"admin:{getpass.getuser()}"


@app.command("start")
def start(
    ctx: typer.Context,
    group: GroupOpt = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why.")] = "declared incident",
) -> None:
    """Declare an incident (recorded in the ledger)."""
    from custos.service.signals import risk_signals

    with failures():
        svc = state(ctx).services()
        incident = risk_signals.start_incident(svc, group=group, by=_admin(), reason=reason)
    console.print(f"incident started for {escape(_label(incident.scope))}")


@app.command("stop")
def stop(ctx: typer.Context, group: GroupOpt = None) -> None:
    """End an incident (recorded in the ledger)."""
    from custos.service.signals import risk_signals

    with failures():
        svc = state(ctx).services()
        incident = risk_signals.stop_incident(svc, group=group, by=_admin())
    console.print(f"incident stopped for {escape(_label(incident.scope))}")


@app.command("list")
def list_incidents(ctx: typer.Context) -> None:
    """Incidents running now."""
    from custos.service.signals import risk_signals

    with failures():
        running = risk_signals.incidents(state(ctx).services())
    if not running:
        console.print("no incident is running")
    for incident in running:
        console.print(
            f"{escape(_label(incident.scope))}: since {incident.started_at:%Y-%m-%d %H:%M} UTC "
            f"by {escape(incident.started_by)} ({escape(incident.reason)})"
        )


def _label(scope: str) -> str:
    from custos.service.signals import risk_signals

    return "everyone" if scope == risk_signals.GLOBAL_SCOPE else f"group '{scope}'"
