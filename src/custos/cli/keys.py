"""``custos keys``: the sealing key (generate, status, rotate-sealing) and the
ledger signing keys (rotate-ledger, in ``cli.audit``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from custos.cli import audit as audit_cli
from custos.cli.context import command_group, console, err_console, escape, fail, failures, state

if TYPE_CHECKING:
    from custos.keystore.live import LiveKeys
    from custos.service.ports import Services

keys_app = command_group("The sealing key and the ledger signing keys.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@keys_app.command("generate")
def keys_generate(ctx: typer.Context) -> None:
    """Write a new sealing key file (mode 0600); refuses to overwrite one."""
    from custos.keystore.file_store import generate_key_file

    with failures():
        path = state(ctx).settings().effective_key_file
        if path.exists():
            fail("key_exists", f"{path} exists; it seals live secrets")
            raise typer.Exit(1)
        generate_key_file(path)
    console.print(f"sealing key written to {path} (mode 0600)")


def _services_and_keys(ctx: typer.Context) -> tuple[Services, LiveKeys]:
    from custos.keystore.live import LiveKeys

    svc = state(ctx).services()
    assert isinstance(svc.key, LiveKeys)
    return svc, svc.key


@keys_app.command("status")
def keys_status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The sealing key ring (key ids only), its store, the last rotation and how
    many sealed values name each key."""
    from custos.service.keys.sealing_status import sealing_status

    with failures():
        svc, live = _services_and_keys(ctx)
        status = sealing_status(svc, live)
    if as_json:
        console.print_json(json.dumps(status))
        return
    console.print(f"key store: {escape(status['key_store'])}", soft_wrap=True)
    console.print(f"sealing key: {status['primary_key_id']}")
    for key_id in status["readable_key_ids"]:
        console.print(f"also opens: {key_id} (a rotation is under way)")
    rotation = status["rotation"]
    if rotation is not None:
        console.print(
            f"last rotation #{rotation['id']}: {rotation['state']}, "
            f"{rotation['old_key_ids']} -> {rotation['new_key_id']}, "
            f"started {rotation['started_at']}",
            soft_wrap=True,
        )
    for column, by_key in status["sealed_values"].items():
        shown = ", ".join(f"{n} under {k}" for k, n in sorted(by_key.items()))
        console.print(f"{column}: {shown}", soft_wrap=True)


@keys_app.command("rotate-sealing")
def keys_rotate_sealing(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option(min=1, max=10000, help="Values per transaction.")] = 200,
    batches: Annotated[
        int | None,
        typer.Option(
            min=1, help="Stop after this many batches (run again to resume), e.g. off-hours."
        ),
    ] = None,
    pause: Annotated[
        float, typer.Option(min=0, max=60, help="Seconds to wait between batches (less load).")
    ] = 0.0,
    settle: Annotated[
        float,
        typer.Option(
            min=0,
            max=600,
            help="Seconds to wait before the last check for values sealed under an old "
            "key by processes that had not yet noticed the new key.",
        ),
    ] = 2.0,
    as_json: JsonOpt = False,
) -> None:
    """Make a new sealing key and re-seal every sealed value under it, online
    (API and workers keep serving); resume a rotation that was interrupted.
    The old key ring is kept beside the store, never deleted."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from custos.service.keys.sealing_rotation import rotate_sealing_key

    with failures():
        svc, live = _services_and_keys(ctx)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console.real,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("re-sealing", total=None)
            report = rotate_sealing_key(
                svc,
                live,
                batch=batch,
                max_batches=batches,
                pause_s=pause,
                settle_s=settle,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    if as_json:
        console.print_json(json.dumps(report.__dict__))
        return
    verb = "resumed" if report.resumed else "started"
    console.print(
        f"rotation #{report.rotation_id} {verb}: new sealing key {report.new_key_id} "
        f"(old: {', '.join(report.old_key_ids)})",
        soft_wrap=True,
    )
    for column, count in sorted(report.resealed.items()):
        console.print(f"  re-sealed {count} in {column}")
    if not report.finished:
        console.print(
            f"stopped after {batches} batch(es): {report.remaining} value(s) still under "
            "an old key; both keys stay readable. Run 'custos keys rotate-sealing' again "
            "to resume."
        )
        return
    console.print(
        f"rotation finished: every sealed value is under {report.new_key_id}; "
        f"the old key(s) left the ring in {escape(report.key_store)}",
        soft_wrap=True,
    )
    kept = report.retired_copy or "where the rotation's first run kept it"
    console.print(
        f"the old key ring is kept at {escape(kept)}: store it offline (restoring a "
        "backup made before this rotation needs it), delete it only on purpose",
        soft_wrap=True,
    )


keys_app.command("rotate-ledger")(audit_cli.rotate_ledger)
