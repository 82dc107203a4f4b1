"""``custos campaign start|approve|status|list|pause|resume|cancel|run|report``
(docs/campaigns.md): containment of every member of a group after a
compromise, approved once by two people who are not the starter.

Every command acts as an operator (``CUSTOS_TOKEN`` or ``--token``): the
campaign names who started, approved, paused or cancelled it. ``run`` works
the campaign in this process (as ``custos worker`` does) with a progress bar,
rate and ETA; interrupted, it stops after the batch in flight and any worker
or a later ``run`` resumes where it stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from custos.cli.context import command_group, console, escape, fail, failures, state
from custos.cli.holds import TokenOpt
from custos.cli.output_file import OutputFile

if TYPE_CHECKING:
    from custos.domain.model import Operator
    from custos.service.campaigns.queries import Progress
    from custos.service.ports import Services

campaign_app = command_group("Incident campaigns: containment of a whole group.")

IdArg = Annotated[str, typer.Argument(help="The campaign's id (campaign-...).")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the ledger).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _operator(svc: Services, token: str | None) -> Operator:
    from custos.service.recovery.operators import authenticate

    if not token:
        fail(
            "unauthenticated",
            "a campaign names who acts on it: give your operator token in CUSTOS_TOKEN "
            "(or --token)",
        )
        raise typer.Exit(1)
    return authenticate(svc, token.strip())


def _progress_row(p: Progress) -> dict[str, object]:
    c = p.campaign
    return {
        "id": c.id,
        "group": c.group,
        "action": str(c.action),
        "state": str(c.state),
        "ticket": c.ticket,
        "reason": c.reason,
        "approvals": [a.person for a in c.approvals],
        "required_approvals": c.required_approvals,
        "subjects": p.subjects,
        "pending": p.pending,
        "skipped": p.skipped,
        "settled": p.settled,
        "completed": p.completed,
        "cases": p.cases,
    }


def _print_progress(p: Progress) -> None:
    c = p.campaign
    console.print(
        f"campaign {c.id}: {c.action} of group {escape(c.group)} ({escape(c.ticket)}), {c.state}"
    )
    console.print(
        f"approvals {len(c.approvals)}/{c.required_approvals}: "
        + (", ".join(escape(a.person) for a in c.approvals) or "none yet")
    )
    console.print(
        f"{p.subjects} subject(s): {p.settled} settled ({p.completed} completed), "
        f"{p.pending} waiting for their case, {p.skipped} skipped"
    )
    if p.cases:
        console.print("cases: " + ", ".join(f"{k} {v}" for k, v in p.cases.items()))


@campaign_app.command("start")
def campaign_start(
    ctx: typer.Context,
    group: Annotated[str, typer.Option("--group", "-g", help="The group to contain.")],
    action: Annotated[
        str, typer.Option("--action", "-a", help="force-reset, revoke-sessions or reissue.")
    ],
    reason: ReasonOpt,
    ticket: Annotated[str, typer.Option("--ticket", "-t", help="The incident's ticket.")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a campaign over every member of a group. It waits for the
    approvals of two other people (the policy's campaigns.approvals)."""
    from custos.service.campaigns import commands, queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        campaign, members = commands.start(
            svc, operator, group=group, action=action, reason=reason, ticket=ticket
        )
        progress = queries.progress(svc, operator, campaign.id)
    if as_json:
        console.print_json(json.dumps(_progress_row(progress)))
        return
    console.print(
        f"campaign {campaign.id} started: {campaign.action} of {members} subject(s) in "
        f"{escape(campaign.group)}; it waits for {campaign.required_approvals} approvals"
    )


@campaign_app.command("approve")
def campaign_approve(
    ctx: typer.Context, campaign_id: IdArg, reason: ReasonOpt, token: TokenOpt = None
) -> None:
    """Approve a campaign (once, for all its subjects). The starter cannot,
    and one person counts once."""
    from custos.service.campaigns import commands

    with failures():
        svc = state(ctx).services()
        campaign = commands.approve(svc, _operator(svc, token), campaign_id, reason=reason)
    console.print(
        f"campaign {campaign.id}: {len(campaign.approvals)}/{campaign.required_approvals} "
        f"approvals, {campaign.state}"
    )


@campaign_app.command("status")
def campaign_status(
    ctx: typer.Context, campaign_id: IdArg, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Where a campaign stands: approvals, subjects done and waiting, cases by state."""
    from custos.service.campaigns import queries

    with failures():
        svc = state(ctx).services()
        progress = queries.progress(svc, _operator(svc, token), campaign_id)
    if as_json:
        console.print_json(json.dumps(_progress_row(progress)))
        return
    _print_progress(progress)


@campaign_app.command("list")
def campaign_list(ctx: typer.Context, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Every campaign in your scope, newest first."""
    from custos.service.campaigns import queries

    with failures():
        svc = state(ctx).services()
        found = queries.listing(svc, _operator(svc, token))
    rows = [
        {
            "id": c.id,
            "group": c.group,
            "action": str(c.action),
            "state": str(c.state),
            "ticket": c.ticket,
            "started_at": c.started_at.isoformat(),
        }
        for c in found
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    for row in rows:
        console.print(
            f"{row['id']}  {row['state']:<17} {row['action']:<15} "
            f"{escape(str(row['group']))}  {escape(str(row['ticket']))}"
        )


def _change(
    ctx: typer.Context, verb: str, campaign_id: str, reason: str, token: str | None
) -> None:
    from custos.service.campaigns import commands

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        if verb == "cancel":
            campaign, skipped = commands.cancel(svc, operator, campaign_id, reason=reason)
            console.print(
                f"campaign {campaign.id} cancelled: {skipped} subject(s) will get no case"
            )
            return
        change = commands.pause if verb == "pause" else commands.resume
        campaign = change(svc, operator, campaign_id, reason=reason)
    console.print(f"campaign {campaign.id}: {campaign.state}")


@campaign_app.command("pause")
def campaign_pause(
    ctx: typer.Context, campaign_id: IdArg, reason: ReasonOpt, token: TokenOpt = None
) -> None:
    """Open no more cases until resumed (cases already opened finish)."""
    _change(ctx, "pause", campaign_id, reason, token)


@campaign_app.command("resume")
def campaign_resume(
    ctx: typer.Context, campaign_id: IdArg, reason: ReasonOpt, token: TokenOpt = None
) -> None:
    """Go on where a paused campaign stopped."""
    _change(ctx, "resume", campaign_id, reason, token)


@campaign_app.command("cancel")
def campaign_cancel(
    ctx: typer.Context, campaign_id: IdArg, reason: ReasonOpt, token: TokenOpt = None
) -> None:
    """Stop for good: subjects without a case are skipped."""
    _change(ctx, "cancel", campaign_id, reason, token)


@campaign_app.command("run")
def campaign_run(
    ctx: typer.Context,
    campaign_id: IdArg,
    token: TokenOpt = None,
    poll: Annotated[float, typer.Option(help="Seconds between two looks.")] = 0.2,
) -> None:
    """Work the campaign in this process, as a worker would (every worker also
    does), with a progress bar, its rate and ETA, until it finishes, is
    paused or cancelled. Ctrl-C stops after the batch in flight; run again
    (or let a worker) resume."""
    import threading

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from custos.bootstrap import settle_worker_process
    from custos.domain.campaigns import CampaignState
    from custos.propagation.worker import Worker
    from custos.service.campaigns import queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        first = queries.progress(svc, operator, campaign_id)
    settle_worker_process()  # this process runs the campaign's worker, as `custos worker` does
    stop = threading.Event()
    worker = Worker(svc)
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    last = first
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console.real,
        ) as bar:
            task = bar.add_task(
                f"{first.campaign.action} {escape(first.campaign.group)}",
                total=first.subjects,
                completed=first.done,
                rate="",
            )
            while True:
                last = queries.progress(svc, operator, campaign_id)
                speed = bar.tasks[0].speed
                bar.update(
                    task,
                    completed=last.done,
                    rate=f"{speed:.1f} subjects/s" if speed else "",
                )
                if last.campaign.state in (
                    CampaignState.FINISHED,
                    CampaignState.CANCELLED,
                    CampaignState.PAUSED,
                    CampaignState.AWAITING_APPROVAL,
                ):
                    break
                stop.wait(poll)
    except KeyboardInterrupt:
        console.print("interrupted: the batch in flight is recorded; run again to resume")
    finally:
        stop.set()
        thread.join()
        worker.close()
    _print_progress(last)
    if last.campaign.state == CampaignState.AWAITING_APPROVAL:
        fail("campaign_not_active", "the campaign waits for its approvals")
        raise typer.Exit(1)


@campaign_app.command("report")
def campaign_report(
    ctx: typer.Context,
    campaign_id: IdArg,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report to this file.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--json-out", help="Write the JSON report to this file.")
    ] = None,
    token: TokenOpt = None,
) -> None:
    """The closing report: every subject, every system, what succeeded where.
    Prints JSON unless --html or --json-out says where to write."""
    from custos.service.campaigns import report

    with failures():
        svc = state(ctx).services()
        data = report.campaign_report(svc, _operator(svc, token), campaign_id)
    if html is not None:
        with failures(), OutputFile(html) as file:
            file.write(report.render_html(data).encode("utf-8"))
        console.print(f"HTML report written to {escape(str(html))}")
    if out is not None:
        with failures(), OutputFile(out) as file:
            file.write(json.dumps(data, indent=2).encode("utf-8"))
        console.print(f"JSON report written to {escape(str(out))}")
    if html is None and out is None:
        console.print_json(json.dumps(data))
