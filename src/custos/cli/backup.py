"""``custos backup DEST`` and ``custos restore SRC`` (docs/operations.md,
"Backup and restore")."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from custos.cli.context import console, err_console, escape, fail, failures, state

if TYPE_CHECKING:
    from custos.service.backup.restore import RestoreReport

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@contextmanager
def phases(*, quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar per phase of the work (copying, restoring, verifying...)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console.real,
        transient=True,
        disable=quiet,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def backup(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(help="A new (or empty) folder for the backup.")],
    as_json: JsonOpt = False,
) -> None:
    """Back the database up while Custos keeps serving: SQLite through its
    online backup API, PostgreSQL through pg_dump (which must be installed
    here). Signs a tree head first; writes DEST/manifest.json."""
    from custos.service.backup.backup import make_backup

    with failures():
        svc = state(ctx).services()
        with phases(quiet=as_json) as progress:
            manifest = make_backup(svc, dest, progress=progress)
    if as_json:
        console.print_json(json.dumps(manifest.to_json()))
        return
    facts = manifest.facts
    head = facts.tree_head
    console.print(
        f"backup written to {escape(str(dest))} ({manifest.backend}, {manifest.bytes} bytes)"
    )
    console.print(f"  sha256 {manifest.sha256}")
    console.print(
        f"  {facts.cases} case(s), {facts.receipts} receipt(s), {facts.ledger_size} ledger "
        f"entries, root {facts.ledger_root}",
        soft_wrap=True,
    )
    if head is None:
        console.print("  no signed tree head (no ledger key): a restore cannot prove continuity")
    else:
        console.print(f"  last signed head: size {head.tree_size}, signed {head.signed_at}")
    console.print(
        "  the sealing key and the ledger keys are NOT in the backup: keep them in your "
        "secret manager (docs/operations.md)"
    )


def restore(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(help="A folder written by 'custos backup'.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore even when this rolls the ledger back past a head that was seen, "
            "or the backup names sealing keys the ring lacks. The loss is recorded.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup (stop API and workers first), then prove ledger
    continuity: a consistency proof from the last head signed before the
    backup to a head signed now, and 'audit verify'. Refuses a rollback past a
    seen head unless --force, saying what would be lost."""
    from custos.service.backup.restore import restore_backup

    with failures():
        svc = state(ctx).services()
        with phases(quiet=as_json) as progress:
            report = restore_backup(svc, src, force=force, progress=progress)
    if as_json:
        console.print_json(json.dumps(_json(report)))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(1)


def _json(report: RestoreReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "forced": report.forced,
        "safety_copy": report.safety_copy,
        "lost": None if report.loss is None else report.loss.to_json(),
        "restored": {
            "ledger_size": report.restored.ledger_size,
            "cases": report.restored.cases,
            "receipts": report.restored.receipts,
        },
        "reinserted_heads": report.reinserted_heads,
        "head_after": None if report.head_after is None else report.head_after.to_json(),
        "proofs": [p.to_json() for p in report.proofs],
        "audit": None if report.audit is None else report.audit.to_json(),
        "notes": report.notes,
        "ok": report.ok,
    }


def _print(report: RestoreReport) -> None:
    facts = report.restored
    console.print(
        f"restored {escape(report.source)} (made {report.manifest.created_at}): "
        f"{facts.cases} case(s), {facts.receipts} receipt(s), {facts.ledger_size} ledger entries",
        soft_wrap=True,
    )
    if report.safety_copy is not None:
        console.print(f"the database it replaced is saved in {escape(report.safety_copy)}")
    if report.loss is not None:
        loud = "[bold red]LOST[/]" if report.loss.witnessed else "lost"
        console.print(f"{loud}: {escape(report.loss.describe())}", soft_wrap=True)
    if report.reinserted_heads:
        console.print(f"{report.reinserted_heads} seen head(s) signed after the backup kept")
    for proof in report.proofs:
        verdict = "consistent" if proof.ok else "NOT CONSISTENT"
        console.print(
            f"consistency proof ({proof.label}): size {proof.first.tree_size} -> "
            f"{proof.second.tree_size}, {len(proof.proof)} hash(es): {verdict}",
            soft_wrap=True,
        )
        if not proof.ok:
            fail("restore_inconsistent", f"{proof.label}: the proof or a signature fails")
    for note in report.notes:
        console.print(f"note: {escape(note)}", soft_wrap=True)
    audit = report.audit
    if audit is not None:
        for problem in audit.problems:
            err_console.print(f"[red]{problem.kind}[/]: {escape(problem.message)}", soft_wrap=True)
        verdict = "intact" if audit.ok else f"BROKEN ({len(audit.problems)} problem(s))"
        console.print(
            f"audit verify: ledger {verdict}: {audit.entries} entries, "
            f"{audit.heads_checked} signed head(s), {audit.witnessed_checked} witnessed",
            soft_wrap=True,
        )
        if not audit.ok and report.forced and report.loss and report.loss.witnessed:
            console.print(
                "the witness still holds the heads past the backup: 'audit verify' reports "
                "the rollback until the witness file is archived on purpose "
                '(docs/operations.md, "Backup and restore")',
                soft_wrap=True,
            )
