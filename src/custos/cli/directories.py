"""CLI for connected systems: ``custos connector list|test``, ``custos subjects
sync`` and ``custos drift``."""

from __future__ import annotations

from typing import Annotated

import typer

from custos.cli.context import command_group, console, escape, fail, failures, state

connector_app = command_group("Connected systems (targets).")
subjects_app = command_group("Subjects and their linked accounts.")


@connector_app.command("list")
def connector_list(ctx: typer.Context) -> None:
    """Every configured target and what it can do."""
    from rich.table import Table

    from custos.connectors.spi import OPERATIONS

    with failures():
        svc = state(ctx).services()
    table = Table(title="targets")
    table.add_column("name", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("capabilities")
    table.add_column("switched off")
    for name in svc.registry.names():
        target = svc.registry.get(name)
        offered = [op for op in OPERATIONS if op in target.capabilities]
        table.add_row(
            name, target.kind, ", ".join(offered), ", ".join(sorted(target.disabled)) or "-"
        )
    console.print(table)


@connector_app.command("test")
def connector_test(ctx: typer.Context, name: str) -> None:
    """Check connectivity, credentials and permissions of one target; exit 1 on a problem."""
    from custos.connectors.errors import ConnectorError
    from custos.connectors.spi import TestOp

    with failures():
        svc = state(ctx).services()
        if not svc.registry.has(name):
            fail(
                "not_found",
                f"no target named '{name}'; configured: " + ", ".join(svc.registry.names()),
            )
            raise typer.Exit(1)
    connector = svc.registry.get(name).connector
    if not isinstance(connector, TestOp):
        fail("unsupported", f"target '{name}' offers no connection test")
        raise typer.Exit(1)
    try:
        steps = connector.test()
    except ConnectorError as exc:
        fail("connector_error", exc.answer)
        raise typer.Exit(1) from None
    for step in steps:
        mark = "[green]ok[/]  " if step.ok else "[red]FAIL[/]"
        console.print(f"{mark} {escape(step.name)}: {escape(step.detail)}", soft_wrap=True)
    if not all(step.ok for step in steps):
        raise typer.Exit(1)


@subjects_app.command("sync")
def subjects_sync(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, change nothing.")] = False,
) -> None:
    """Import identities from the targets and link accounts by correlation attributes.
    Exits 1 when conflicts, orphans or unreachable targets need a person."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from custos.service.directories.sync import sync_subjects

    with failures():
        svc = state(ctx).services()
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console.real,
            transient=True,
        ) as progress:
            task = progress.add_task("syncing", total=None)
            report = sync_subjects(
                svc, dry_run=dry_run, tick=lambda what: progress.update(task, description=what)
            )
    verb = "would be" if dry_run else ""
    console.print(
        f"subjects created {verb}: {len(report.created)}; changed {verb}: {len(report.changed)}; "
        f"accounts linked {verb}: {len(report.linked)}; already linked: {report.unchanged}; "
        f"orphaned: {len(report.orphans)}; conflicting: {len(report.conflicts)}"
    )
    for line in report.changed:
        console.print(f"  changed {line}", markup=False, soft_wrap=True)
    for subject, before, after in report.tier_moves:
        console.print(f"  tier {subject}: {before or '-'} -> {after or '-'}", markup=False)
    for subject, target, account in report.linked:
        console.print(f"  linked {target}/{account} -> {subject}", markup=False)
    for title, lines in (
        ("conflicts", report.conflicts),
        ("orphans", report.orphans),
        ("unreachable targets", report.unreachable),
    ):
        if lines:
            console.print(f"[yellow]{title}[/] ({len(lines)}):")
            for line in lines:
                console.print(f"  {line}", markup=False, soft_wrap=True)
    if report.conflicts or report.orphans or report.unreachable:
        raise typer.Exit(1)


@subjects_app.command("show")
def subjects_show(ctx: typer.Context, user: str) -> None:
    """A subject's attributes, its tier, and which directory attribute set each."""
    from rich.table import Table

    from custos.domain.errors import RecoveryBlocked
    from custos.policy.engine import select_tier

    with failures():
        svc = state(ctx).services()
        with svc.uow(read_only=True) as uow:
            subject = uow.subjects.find(user)
        if subject is None:
            fail("not_found", f"no subject '{user}'")
            raise typer.Exit(1)
    try:
        tier = select_tier(svc.policy, subject).name
    except RecoveryBlocked:
        tier = "none (no tier matches: not recoverable)"
    table = Table(title=f"subject {subject.id}: tier {tier}")
    for column in ("attribute", "value", "set by"):
        table.add_column(column)
    values = {
        "kind": str(subject.kind),
        "employment": str(subject.employment),
        "privileged": str(subject.privileged),
        "groups": ", ".join(sorted(subject.groups)) or "-",
        "owner": subject.owner or "-",
        "owners": ", ".join(subject.owners) or "-",
        "manager": subject.manager or "-",
        "sponsor": subject.sponsor or "-",
        "contract_end": subject.contract_end.isoformat() if subject.contract_end else "-",
        "employee_id": subject.employee_id or "-",
        "holds": ", ".join(sorted(subject.holds)) or "-",
    }
    for key, value in values.items():
        table.add_row(key, escape(value), escape(subject.attribute_sources.get(key, "-")))
    console.print(table)


def drift(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=365, help="Recoveries of the last N days.")] = 7,
) -> None:
    """Read back every target of recent recoveries; exit 1 where one did not land."""
    from rich.progress import Progress, SpinnerColumn, TextColumn
    from rich.table import Table

    from custos.service.directories.drift import check_drift

    with failures():
        svc = state(ctx).services()
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=console.real, transient=True
        ) as progress:
            task = progress.add_task("reading back")
            findings = check_drift(
                svc, days=days, tick=lambda what: progress.update(task, description=what)
            )
    table = Table(title=f"drift over the last {days} day(s): {len(findings)} account(s)")
    for column in ("case", "subject", "target/account", "status", "detail"):
        table.add_column(column, no_wrap=column in ("case", "status"))
    style = {"landed": "green", "drifted": "red", "failed": "red", "unknown": "yellow"}
    for f in findings:
        table.add_row(
            f.case_id,
            f.subject_id,
            f"{f.target}/{f.account_id}",
            f"[{style[f.status]}]{f.status}[/]",
            escape(f.detail),
        )
    console.print(table)
    if any(f.status in ("drifted", "failed") for f in findings):
        raise typer.Exit(1)
