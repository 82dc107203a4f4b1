"""``custos owners depart|unowned|interactive`` (docs/service-accounts.md):
owner departure transfers every service account to a successor and rotates
each (R-39); unowned service accounts are listed; interactive use of a service
credential is read where a target can report it (R-42).

``depart`` acts as an operator (an admin, through ``CUSTOS_TOKEN``): each
transfer names who made it. ``unowned`` and ``interactive`` read as the local
administrator."""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict
from typing import Annotated

import typer

from custos.cli.context import command_group, console, escape, failures, state
from custos.cli.holds import TokenOpt, _operator

owners_app = command_group("Owners of service accounts: departure, unowned accounts.")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@owners_app.command("depart")
def depart(
    ctx: typer.Context,
    owner: Annotated[str, typer.Argument(help="The departing owner's subject id.")],
    successor: Annotated[str, typer.Option("--successor", help="Who takes their accounts.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the ledger).")] = (
        "owner departure"
    ),
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer every service account OWNER owns to SUCCESSOR and open a
    rotation case for each (the successor confirms, approvers approve)."""
    from custos.service.service_accounts import owners

    with failures():
        svc = state(ctx).services()
        operator = _operator(svc, token)
        transfers = owners.depart(
            svc, operator, owner_id=owner, successor_id=successor, reason=reason
        )
    if as_json:
        console.print_json(json.dumps([asdict(t) for t in transfers]))
        return
    if not transfers:
        console.print(f"{escape(owner)} owns no service account: nothing transferred")
    for t in transfers:
        console.print(
            f"{escape(t.service_id)}: transferred to {escape(successor)}; "
            f"rotation case {t.case_id} ({t.case_state})"
        )


@owners_app.command("unowned")
def unowned(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Service accounts without an owner who is a person Custos knows."""
    from custos.service.service_accounts import owners

    with failures():
        found = owners.unowned(state(ctx).services())
    if as_json:
        console.print_json(json.dumps([asdict(u) for u in found]))
        return
    if not found:
        console.print("every service account has an owner")
    for u in found:
        console.print(f"{escape(u.service_id)} ({escape(u.display_name)}): {escape(u.why)}")


@owners_app.command("interactive")
def interactive(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="The service account's subject id.")],
    as_json: JsonOpt = False,
) -> None:
    """Logons each target recorded for SERVICE (flagged), or that it cannot report."""
    from custos.service.service_accounts import interactive as use

    with failures():
        reports = use.check(
            state(ctx).services(), service_id=service, actor=f"admin:{getpass.getuser()}"
        )
    if as_json:
        console.print_json(json.dumps([asdict(r) for r in reports]))
        return
    for r in reports:
        console.print(f"{escape(r.target)}/{escape(r.account_id)}: {r.status}: {escape(r.detail)}")
