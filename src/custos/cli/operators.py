"""``custos operator ...``: operators, their console sign-in and their API tokens
(docs/console.md#operators). The command line acts as the host's administrator
(``cli:local`` in the ledger): whoever runs it holds the database and the
sealing key. Every change is a ledger event; a secret (token, one-time password,
enrolment link) is printed once and never stored in clear."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from custos.cli.context import command_group, console, failures, state
from custos.domain.model import Role

operator_app = command_group("Operators: console sign-in, roles and API tokens.")

NameArg = Annotated[str, typer.Argument(help="The operator's name.")]
RolesOpt = Annotated[list[Role], typer.Option("--role", help="Repeat for several roles.")]
ScopeOpt = Annotated[list[str], typer.Option("--scope", help="Subject group, or '*'.")]
GroupsOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Membership, e.g. security-approvers.")
]
DaysOpt = Annotated[
    int | None,
    typer.Option("--token-days", help="The API token stops working after N days (default: never)."),
]


def _shown(label: str, secret: str) -> None:
    console.print(f"{label} (shown once, hand it over now):")
    console.print(secret, markup=False, soft_wrap=True)


@operator_app.command("list")
def operator_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Every operator: status, roles, scope, second factors, API token."""
    from rich.table import Table

    from custos.service.console import operator_admin

    with failures():
        accounts = operator_admin.accounts(state(ctx).services(), operator_admin.CLI_ACTOR)
    rows = [
        {
            "name": a.operator.name,
            "id": a.operator.id,
            "person": a.operator.person,
            "active": a.operator.active,
            "roles": sorted(str(r) for r in a.operator.roles),
            "scope": sorted(a.operator.scope),
            "groups": sorted(a.operator.groups),
            "password": a.has_password,
            "second_factors": sorted({str(f.kind) for f in a.factors}),
            "api_token": str(a.token),
            "token_expires_at": a.token_expires_at.isoformat() if a.token_expires_at else None,
            "open_sessions": a.open_sessions,
        }
        for a in accounts
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(accounts)} operator(s)")
    for column in ("name", "status", "roles", "scope", "2nd factor", "API token", "sessions"):
        table.add_column(column)
    for a in accounts:
        token = str(a.token)
        if a.token_expires_at is not None:
            token += f" until {a.token_expires_at:%Y-%m-%d %H:%M}"
        table.add_row(
            a.operator.name,
            "active" if a.operator.active else "disabled",
            ", ".join(sorted(a.operator.roles)),
            ", ".join(sorted(a.operator.scope)),
            ", ".join(sorted({str(f.kind) for f in a.factors})) or "none",
            token,
            str(a.open_sessions),
        )
    console.print(table)


@operator_app.command("add")
def operator_add(
    ctx: typer.Context,
    name: NameArg,
    role: RolesOpt,
    scope: ScopeOpt,
    group: GroupsOpt = None,
    person: Annotated[str | None, typer.Option(help="The human behind it (default: NAME).")] = None,
    token_days: DaysOpt = None,
    no_token: Annotated[
        bool, typer.Option("--no-token", help="No API token (a console-only operator).")
    ] = False,
    one_time_password: Annotated[
        bool,
        typer.Option(
            "--one-time-password", help="Print a password to change at the first console sign-in."
        ),
    ] = False,
    enrolment_link: Annotated[
        bool,
        typer.Option(
            "--enrolment-link",
            help="Print a one-time link (24 h) to choose a password and a second factor.",
        ),
    ] = False,
) -> None:
    """Create an operator; print its API token (unless --no-token) and the way in
    you asked for, each once."""
    from custos.service.console import operator_admin

    with failures():
        added = operator_admin.add(
            state(ctx).services(),
            operator_admin.CLI_ACTOR,
            name=name,
            roles=role,
            scope=scope,
            groups=group or [],
            person=person,
            api_token=not no_token,
            token_days=None if no_token else token_days,
            one_time_password=one_time_password,
            enrolment_link=enrolment_link,
        )
    console.print(f"operator {added.operator.name} ({added.operator.id}) created")
    if added.api_token:
        console.print("API token (shown once, store it now):")
        console.print(added.api_token, markup=False)
    if added.one_time_password:
        _shown("one-time console password", added.one_time_password)
    if added.enrolment_link:
        _shown("one-time enrolment link", added.enrolment_link)


@operator_app.command("disable")
def operator_disable(ctx: typer.Context, name: NameArg) -> None:
    """Disable an operator: console sessions end now, the API token is refused."""
    from custos.service.console import operator_admin

    with failures():
        ended = operator_admin.disable(state(ctx).services(), operator_admin.CLI_ACTOR, name)
    console.print(f"operator {name} disabled ({ended} console session(s) ended)", markup=False)


@operator_app.command("enable")
def operator_enable(ctx: typer.Context, name: NameArg) -> None:
    """Enable a disabled operator."""
    from custos.service.console import operator_admin

    with failures():
        operator_admin.enable(state(ctx).services(), operator_admin.CLI_ACTOR, name)
    console.print(f"operator {name} enabled", markup=False)


@operator_app.command("set-access")
def operator_set_access(
    ctx: typer.Context, name: NameArg, role: RolesOpt, scope: ScopeOpt, group: GroupsOpt = None
) -> None:
    """Replace an operator's roles and scope (and groups when --group is given)."""
    from custos.service.console import operator_admin

    with failures():
        changed = operator_admin.set_access(
            state(ctx).services(),
            operator_admin.CLI_ACTOR,
            name,
            roles=role,
            scope=scope,
            groups=group,
        )
    console.print(
        f"operator {name}: roles {', '.join(sorted(changed.roles))}; "
        f"scope {', '.join(sorted(changed.scope))}",
        markup=False,
    )


@operator_app.command("rotate-token")
def operator_rotate(ctx: typer.Context, name: NameArg, token_days: DaysOpt = None) -> None:
    """Issue a new API token; the old one stops working at once."""
    from custos.service.console import operator_admin

    with failures():
        token = operator_admin.rotate_token(
            state(ctx).services(), operator_admin.CLI_ACTOR, name, token_days=token_days
        )
    console.print("new API token (shown once):")
    console.print(token, markup=False)


@operator_app.command("revoke-token")
def operator_revoke(ctx: typer.Context, name: NameArg) -> None:
    """The operator's API token stops working (console sign-in stays)."""
    from custos.service.console import operator_admin

    with failures():
        operator_admin.revoke_token(state(ctx).services(), operator_admin.CLI_ACTOR, name)
    console.print(f"API token of {name} revoked", markup=False)


@operator_app.command("reset-second-factor")
def operator_reset_second_factor(ctx: typer.Context, name: NameArg) -> None:
    """Revoke the operator's second factors (lost phone or key) and end their
    sessions; the next sign-in sets up a new one."""
    from custos.service.console import operator_admin

    with failures():
        revoked = operator_admin.reset_second_factor(
            state(ctx).services(), operator_admin.CLI_ACTOR, name
        )
    console.print(f"{revoked} second factor(s) of {name} revoked", markup=False)


@operator_app.command("one-time-password")
def operator_one_time_password(ctx: typer.Context, name: NameArg) -> None:
    """Replace the operator's console password by a one-time one (printed once)."""
    from custos.service.console import operator_admin

    with failures():
        password = operator_admin.one_time_password(
            state(ctx).services(), operator_admin.CLI_ACTOR, name
        )
    _shown("one-time console password", password)


@operator_app.command("enrolment-link")
def operator_enrolment_link(ctx: typer.Context, name: NameArg) -> None:
    """A one-time link (24 h) to choose a console password, then a second factor."""
    from custos.service.console import operator_admin

    with failures():
        link = operator_admin.enrolment_link(state(ctx).services(), operator_admin.CLI_ACTOR, name)
    _shown("one-time enrolment link", link)
