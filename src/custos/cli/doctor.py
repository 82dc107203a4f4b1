"""``custos doctor``: every check in one screen; exit 1 when one fails."""

from __future__ import annotations

import typer

from custos.cli.context import console, state


def doctor(ctx: typer.Context) -> None:
    """Check the configuration, key files, database (reachable, migration level,
    clock skew) and each target (reachable, TLS); exit 1 when anything is wrong."""
    from datetime import UTC, datetime

    from rich.table import Table
    from rich.text import Text

    from custos.service.doctor.checks import run_all
    from custos.store.database import make_engine

    cli = state(ctx)
    findings = run_all(cli.settings, make_engine, lambda: datetime.now(UTC))
    table = Table(title="custos doctor")
    table.add_column("check", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("detail")
    for f in findings:
        mark = Text("ok", style="green") if f.ok else Text("FAIL", style="bold red")
        table.add_row(Text(f.check), mark, Text(f.detail))
    console.print(table)
    wrong = [f for f in findings if not f.ok]
    if wrong:
        console.print(f"[bold red]{len(wrong)} problem(s)[/]")
        raise typer.Exit(1)
    console.print("[green]no problem found[/]")
