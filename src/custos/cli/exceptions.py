"""``custos exception request|approve|revoke|list`` (docs/exceptions.md): time-
bound, two-person-approved relaxations of one requirement of the policy.

Requesting, approving and revoking act as an operator (an exception names who
asked and who approved, and the requester never approves), so these commands
authenticate with the operator's API token (``CUSTOS_TOKEN``, or ``--token``).
``list`` reads as the local administrator (every exception)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from custos.cli.context import command_group, console, escape, fail, failures, state
from custos.cli.holds import JsonOpt, TokenOpt, _ends_at

if TYPE_CHECKING:
    from custos.domain.model import Operator
    from custos.service.exceptions.queries import ExceptionView
    from custos.service.ports import Services

exception_app = command_group("Policy exceptions: request, approve, revoke, list.")


def _operator(svc: Services, token: str | None) -> Operator:
    from custos.service.recovery.operators import authenticate

    if not token:
        fail(
            "unauthenticated",
            "an exception names who asked for and approved it: give your operator token "
            "in CUSTOS_TOKEN (or --token)",
        )
        raise typer.Exit(1)
    return authenticate(svc, token.strip())


def _print(view: ExceptionView, as_json: bool, what: str) -> None:
    if as_json:
        console.print_json(json.dumps(_row(view)))
        return
    r = view.record
    console.print(f"exception {r.id} {what}: {view.status}, ends {r.ends_at:%Y-%m-%d %H:%M} UTC")


@exception_app.command("request")
def exception_request(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the ledger).")],
    ticket: Annotated[
        str, typer.Option("--ticket", "-t", help="The change or incident ticket it answers.")
    ],
    relaxation: Annotated[str, typer.Option("--relax", help="approvals, method or break_glass.")],
    value: Annotated[
        str,
        typer.Option(
            "--value",
            help="The approvals count, or the method allowed; for break_glass, "
            "optionally the tier to recover under when the policy blocks the subject.",
        ),
    ] = "",
    subject: Annotated[
        list[str] | None, typer.Option("--subject", "-s", help="Subject id (repeatable).")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", "-g", help="Subject group.")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="A tier of the policy.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End time, ISO 8601 with its zone.")
    ] = None,
    lasting: Annotated[
        str | None, typer.Option("--for", help="End after this long: 24h, 1h30m.")
    ] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Request an exception for subjects, a group or a tier. It relaxes nothing
    until two people other than you approve it, and ends by itself."""
    from custos.service.exceptions import commands, queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        record = commands.request_exception(
            svc,
            operator,
            reason=reason,
            ticket=ticket,
            relaxation=commands.parse_relaxation(relaxation),
            value=value,
            ends_at=_ends_at(until, lasting, svc.clock.now()),
            subject_ids=tuple(subject or ()),
            group=group,
            tier=tier,
        )
        view = queries.exception_view(svc, operator, record.id)
    _print(view, as_json, "requested")


@exception_app.command("approve")
def exception_approve(
    ctx: typer.Context,
    exception_id: Annotated[str, typer.Argument(help="The exception's id (exc-...).")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve an exception; never your own request."""
    from custos.service.exceptions import commands, queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        record = commands.approve_exception(svc, operator, exception_id)
        view = queries.exception_view(svc, operator, record.id)
    _print(view, as_json, "approved")


@exception_app.command("revoke")
def exception_revoke(
    ctx: typer.Context,
    exception_id: Annotated[str, typer.Argument(help="The exception's id (exc-...).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it ends now.")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a pending or active exception (an approver, or its requester)."""
    from custos.service.exceptions import commands, queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        record = commands.revoke_exception(svc, operator, exception_id, reason=reason)
        view = queries.exception_view(svc, operator, record.id)
    _print(view, as_json, "revoked")


@exception_app.command("list")
def exception_list(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option("--status", help="pending, active, expired, revoked or all.")
    ] = "all",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Exceptions, newest first."""
    from rich.table import Table

    from custos.service.exceptions import queries

    with failures():
        views = queries.list_exceptions(
            state(ctx).services(), None, status=queries.parse_status(status), limit=limit
        )
    if as_json:
        console.print_json(json.dumps([_row(v) for v in views]))
        return
    table = Table(title=f"{len(views)} exception(s), {status}")
    table.add_column("exception", no_wrap=True)
    columns = ("relaxes", "covers", "status", "reason", "ticket", "approved by", "start", "end")
    for column in columns:
        table.add_column(column)
    for v in views:
        r = v.record
        covers = ", ".join(r.subject_ids) or (
            f"group {r.group}" if r.group is not None else f"tier {r.tier}"
        )
        relaxes = f"{r.relaxation} {r.value}".strip()
        # Reasons, groups and names are typed by people: never markup.
        table.add_row(
            r.id,
            escape(relaxes),
            escape(covers),
            str(v.status),
            escape(r.reason),
            escape(r.ticket or "-"),
            escape(", ".join(sorted(r.approvers())) or "-"),
            f"{r.starts_at:%Y-%m-%d %H:%M}",
            f"{r.ends_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def _row(view: ExceptionView) -> dict[str, object]:
    r = view.record

    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": r.id,
        "status": str(view.status),
        "relaxation": str(r.relaxation),
        "value": r.value,
        "subjects": list(r.subject_ids),
        "group": r.group,
        "tier": r.tier,
        "reason": r.reason,
        "ticket": r.ticket,
        "requested_by": r.requested_by,
        "requester_person": r.requester_person,
        "approvers": sorted(r.approvers()),
        "starts_at": when(r.starts_at),
        "ends_at": when(r.ends_at),
        "revoked_by": r.revoked_by,
        "revoked_at": when(r.revoked_at),
        "expired_at": when(r.expired_at),
    }
