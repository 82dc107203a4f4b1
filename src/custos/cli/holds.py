"""``custos hold set|lift|list`` (docs/holds.md): legal holds, incident freezes,
fraud holds and the kinds the policy adds, on a subject or a group.

Setting and lifting act as an operator, never as the host's administrator: a
hold names the person who set it and a different person must lift it, so
these commands authenticate with the operator's API token (``CUSTOS_TOKEN``,
or ``--token``) and the policy's roles apply as in the API and the console.
``list`` reads as the local administrator (every hold)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from custos.cli.context import command_group, console, escape, fail, failures, state

if TYPE_CHECKING:
    from custos.domain.model import Operator
    from custos.service.holds.queries import HoldView
    from custos.service.ports import Services

hold_app = command_group("Holds on subjects and groups: set, lift, list.")

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CUSTOS_TOKEN",
        show_envvar=True,
        help="Your operator API token (cop_...); prefer the environment variable.",
    ),
]
SubjectOpt = Annotated[str | None, typer.Option("--subject", "-s", help="Subject id.")]
GroupOpt = Annotated[str | None, typer.Option("--group", "-g", help="Subject group.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _operator(svc: Services, token: str | None) -> Operator:
    """The operator behind ``token``. Exits 1 without one; raises NotAuthorized
    (printed by ``failures``) for a token that does not work."""
    return operator_for(svc, token, act="setting or lifting a hold names who did it")


def operator_for(svc: Services, token: str | None, *, act: str) -> Operator:
    """The operator behind ``token`` for a command that ``act`` (says why it
    needs one). Exits 1 without one; raises NotAuthorized (printed by
    ``failures``) for a token that does not work."""
    from custos.service.recovery.operators import authenticate

    if not token:
        fail("unauthenticated", f"{act}: give your operator token in CUSTOS_TOKEN (or --token)")
        raise typer.Exit(1)
    return authenticate(svc, token.strip())


def _ends_at(until: str | None, lasting: str | None, now: datetime) -> datetime | None:
    from custos.domain.errors import InvalidInput

    if until and lasting:
        raise InvalidInput("give --until or --for, not both")
    if until:
        try:
            return datetime.fromisoformat(until)
        except ValueError:
            raise InvalidInput(
                f"'{until[:40]}' is not a time; write e.g. 2026-12-31T18:00Z"
            ) from None
    if lasting:
        from custos.policy.schema import parse_duration

        try:
            return now + parse_duration(lasting)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    return None


@hold_app.command("set")
def hold_set(
    ctx: typer.Context,
    kind: Annotated[
        str, typer.Option("--kind", "-k", help="legal_hold, incident_freeze, fraud, or a policy's.")
    ],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the ledger).")],
    ticket: Annotated[str, typer.Option("--ticket", "-t", help="The ticket it answers.")],
    subject: SubjectOpt = None,
    group: GroupOpt = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End time, ISO 8601 with its zone.")
    ] = None,
    lasting: Annotated[
        str | None, typer.Option("--for", help="End after this long: 72h, 30d, 1h30m.")
    ] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set a hold on a subject or a group: its recovery is refused and its open
    cases wait in 'blocked' until another person lifts the hold (or it ends)."""
    from custos.service.holds import commands, queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        change = commands.set_hold(
            svc,
            operator,
            kind=kind,
            subject_id=subject,
            group=group,
            reason=reason,
            ticket=ticket,
            ends_at=_ends_at(until, lasting, svc.clock.now()),
        )
        view = queries.hold_view(svc, operator, change.hold.id)
    if as_json:
        console.print_json(json.dumps({**_row(view), "cases_blocked": list(change.cases_blocked)}))
        return
    hold = change.hold
    console.print(f"hold {hold.id} ({hold.kind}) set on {escape(hold.target)}")
    blocked = ", ".join(change.cases_blocked) or "none"
    console.print(f"open cases now blocked: {blocked}")


@hold_app.command("lift")
def hold_lift(
    ctx: typer.Context,
    hold_id: Annotated[str, typer.Argument(help="The hold's id (hold-...).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it ends now.")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lift a standing hold. Needs the policy's lifting role (by default a
    security approver), and a different person from the one who set it."""
    from custos.service.holds import commands, queries

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        change = commands.lift_hold(svc, operator, hold_id, reason=reason)
        view = queries.hold_view(svc, operator, change.hold.id)
    if as_json:
        console.print_json(
            json.dumps({**_row(view), "cases_released": list(change.cases_released)})
        )
        return
    console.print(f"hold {change.hold.id} lifted from {escape(change.hold.target)}")
    released = ", ".join(change.cases_released) or "none"
    console.print(f"cases back where they stood: {released}")


@hold_app.command("list")
def hold_list(
    ctx: typer.Context,
    subject: SubjectOpt = None,
    group: GroupOpt = None,
    status: Annotated[
        str, typer.Option("--status", help="standing, lifted, expired or all.")
    ] = "standing",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Holds, newest first: standing ones unless --status says otherwise.
    --subject: the holds on the subject and on its groups."""
    from rich.table import Table

    from custos.service.holds import queries

    with failures():
        views = queries.list_holds(
            state(ctx).services(),
            None,
            subject_id=subject,
            group=group,
            status=queries.parse_status(status),
            limit=limit,
        )
    if as_json:
        console.print_json(json.dumps([_row(v) for v in views]))
        return
    table = Table(title=f"{len(views)} hold(s), {status}")
    table.add_column("hold", no_wrap=True)
    for column in ("kind", "on", "status", "reason", "ticket", "set by", "set (UTC)", "ends"):
        table.add_column(column)
    for v in views:
        h = v.hold
        ended = "until lifted"
        if h.lifted_at is not None:
            ended = f"lifted {h.lifted_at:%Y-%m-%d %H:%M} by {v.lifted_by}"
        elif h.ends_at is not None:
            ended = f"{h.ends_at:%Y-%m-%d %H:%M}"
        # Reasons, tickets, groups and names are typed by people: never markup.
        table.add_row(
            h.id,
            h.kind,
            escape(h.target),
            str(v.status),
            escape(h.reason),
            escape(h.ticket or "-"),
            escape(v.set_by),
            f"{h.set_at:%Y-%m-%d %H:%M}",
            escape(ended),
        )
    console.print(table)


def _row(view: HoldView) -> dict[str, object]:
    h = view.hold

    def when(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": h.id,
        "kind": h.kind,
        "subject": h.subject_id,
        "group": h.group,
        "status": str(view.status),
        "reason": h.reason,
        "ticket": h.ticket,
        "set_by": h.set_by,
        "set_by_name": view.set_by,
        "set_at": when(h.set_at),
        "ends_at": when(h.ends_at),
        "lifted_by": h.lifted_by,
        "lifted_by_name": view.lifted_by,
        "lifted_at": when(h.lifted_at),
        "lift_reason": h.lift_reason,
        "expired_at": when(h.expired_at),
    }
