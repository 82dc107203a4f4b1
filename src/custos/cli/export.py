"""``custos export run|status``: ship ledger events to the configured SIEM sinks."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from custos.cli.context import command_group, console, fail, failures, state

app = command_group("SIEM export (OCSF over syslog or HTTPS).")


@app.command("run")
def run(
    ctx: typer.Context,
    max_batches: Annotated[int, typer.Option(help="Stop after this many batches per sink.")] = 1000,
) -> None:
    """Deliver everything not yet acknowledged, now (ignores backoff). Exit 1 if a
    sink could not take its backlog."""
    from custos.export.delivery import Exporter, export_status

    with failures():
        svc = state(ctx).services()
    if not svc.settings.siem.sinks:
        console.print("no SIEM sinks configured (siem.sinks)")
        return
    exporter = Exporter(svc)
    total = 0
    for _ in range(max_batches):
        sent = exporter.run_once(force=True)
        total += sent
        if sent == 0:
            break
    console.print(f"{total} event(s) delivered and acknowledged")
    for status in export_status(svc):
        if status.pending:
            fail("export_pending", f"{status.name}: {status.pending} event(s) still pending")
            raise typer.Exit(1)


@app.command("status")
def status(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Per sink: the last acknowledged ledger position and the backlog."""
    from rich.table import Table

    from custos.export.delivery import export_status

    with failures():
        rows = export_status(state(ctx).services())
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {
                        "sink": r.name,
                        "kind": r.kind,
                        "last_seq": r.last_seq,
                        "pending": r.pending,
                        "updated_at": r.updated_at.isoformat() if r.updated_at else None,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(title=f"{len(rows)} sink(s)")
    for column in ("sink", "kind", "acknowledged up to", "pending", "updated (UTC)"):
        table.add_column(column)
    for r in rows:
        when = r.updated_at.strftime("%Y-%m-%d %H:%M:%S") if r.updated_at else "never"
        table.add_row(r.name, r.kind, str(r.last_seq), str(r.pending), when)
    console.print(table)
