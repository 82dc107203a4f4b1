"""Operator administration in the console (docs/console.md#operators): the list,
an operator's page with every change an admin may make, the form to add one.
The service (custos.service.console.operator_admin) checks that the signed-in
operator is an admin and not changing themselves. A one-time password, link or
API token is shown once, in the answer to the form that made it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.domain.errors import DomainError, InvalidInput
from custos.domain.model import Role
from custos.domain.operator_accounts import OperatorAccount, require_admin
from custos.service.console import operator_admin
from custos.service.console.sessions import ConsoleContext
from custos.web.console.session import CheckedDep, ConsoleDep, page_context, services
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

BASE = "/console/admin/operators"
NamePath = Annotated[str, Path(max_length=200)]
#: Notices after a change, by the ``done`` query parameter of the operator's page.
DONE = {
    "disabled": "Disabled: their console sessions ended and their API token is refused.",
    "enabled": "Enabled: they can sign in again.",
    "access": "Roles and scope changed.",
    "revoked": "API token revoked.",
    "reset": "Second factor reset: they set up a new one at their next sign-in.",
}
_SPLIT = re.compile(r"[\s,]+")


def _words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(text.strip()) if w]


def _roles(values: list[str]) -> list[Role]:
    if len(values) > len(Role):
        raise InvalidInput("too many roles")
    try:
        return [Role(v) for v in values]
    except ValueError:
        raise InvalidInput("unknown role", known=[str(r) for r in Role]) from None


def _operator_page(
    request: Request,
    ctx: ConsoleContext,
    account: OperatorAccount,
    *,
    notice: str | None = None,
    failure: str | None = None,
    shown: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/admin/operator.html",
        status_code=status_code,
        **page_context(request, ctx, f"Operator {account.operator.name}"),
        account=account,
        itself=account.operator.id == ctx.operator.id,
        all_roles=[str(r) for r in Role],
        notice=notice,
        failure=failure,
        shown=shown,
    )


@router.get(BASE, response_class=HTMLResponse)
def operator_list(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    accounts = operator_admin.accounts(services(request), ctx.operator)
    return render(
        request,
        "console/admin/operators.html",
        **page_context(request, ctx, "Operators"),
        accounts=accounts,
    )


@router.get(BASE + "/new", response_class=HTMLResponse)
def add_form(request: Request, ctx: ConsoleDep) -> HTMLResponse:
    require_admin(ctx.operator)
    return _add_page(request, ctx)


def _add_page(
    request: Request,
    ctx: ConsoleContext,
    *,
    failure: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/admin/operator_add.html",
        status_code=status_code,
        **page_context(request, ctx, "Add an operator"),
        all_roles=[str(r) for r in Role],
        failure=failure,
        values=values
        or {"name": "", "person": "", "roles": [], "scope": "", "groups": "", "first": "link"},
    )


@router.post(BASE, response_model=None)
def add(
    request: Request,
    ctx: CheckedDep,
    name: Annotated[str, Form(max_length=100)],
    scope: Annotated[str, Form(max_length=1000)],
    roles: Annotated[list[str] | None, Form(max_length=20)] = None,
    person: Annotated[str, Form(max_length=200)] = "",
    groups: Annotated[str, Form(max_length=1000)] = "",
    first: Annotated[str, Form(max_length=20)] = "link",
    api_token: Annotated[str | None, Form(max_length=5)] = None,
    token_days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    values = {
        "name": name,
        "person": person,
        "roles": roles or [],
        "scope": scope,
        "groups": groups,
        "first": first,
    }
    if first not in {"link", "password", "none"}:
        return _add_page(
            request, ctx, failure="choose how they sign in first", values=values, status_code=422
        )
    try:
        added = operator_admin.add(
            services(request),
            ctx.operator,
            name=name.strip(),
            roles=_roles(roles or []),
            scope=_words(scope),
            groups=_words(groups),
            person=person.strip() or None,
            api_token=api_token is not None,
            token_days=token_days if api_token is not None else None,
            one_time_password=first == "password",
            enrolment_link=first == "link",
        )
    except InvalidInput as exc:
        return _add_page(request, ctx, failure=exc.message, values=values, status_code=422)
    shown = {
        "API token": added.api_token,
        "One-time password": added.one_time_password,
        "Enrolment link": added.enrolment_link,
    }
    account = operator_admin.account(services(request), ctx.operator, added.operator.name)
    return _operator_page(
        request,
        ctx,
        account,
        notice=f"Operator {added.operator.name} added.",
        shown={k: v for k, v in shown.items() if v},
        status_code=201,
    )


@router.get(BASE + "/{name}", response_class=HTMLResponse)
def operator_page(
    request: Request,
    ctx: ConsoleDep,
    name: NamePath,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    account = operator_admin.account(services(request), ctx.operator, name[:200])
    return _operator_page(request, ctx, account, notice=DONE.get(done or ""))


def _change(
    request: Request, ctx: ConsoleContext, name: str, done: str, change: Callable[[], object]
) -> Response:
    """Run ``change``; on success go back to the operator's page with a notice,
    else show the page with the refusal in plain words."""
    try:
        change()
    except DomainError as exc:
        account = operator_admin.account(services(request), ctx.operator, name)
        status = 403 if exc.error_id in {"self_change_refused", "not_authorized"} else 422
        return _operator_page(request, ctx, account, failure=exc.message, status_code=status)
    return RedirectResponse(f"{BASE}/{quote(name, safe='')}?done={done}", status_code=303)


@router.post(BASE + "/{name}/disable", response_model=None)
def disable(request: Request, ctx: CheckedDep, name: NamePath) -> Response:
    svc = services(request)
    return _change(
        request, ctx, name, "disabled", lambda: operator_admin.disable(svc, ctx.operator, name)
    )


@router.post(BASE + "/{name}/enable", response_model=None)
def enable(request: Request, ctx: CheckedDep, name: NamePath) -> Response:
    svc = services(request)
    return _change(
        request, ctx, name, "enabled", lambda: operator_admin.enable(svc, ctx.operator, name)
    )


@router.post(BASE + "/{name}/access", response_model=None)
def access(
    request: Request,
    ctx: CheckedDep,
    name: NamePath,
    scope: Annotated[str, Form(max_length=1000)],
    roles: Annotated[list[str] | None, Form(max_length=20)] = None,
    groups: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    svc = services(request)
    return _change(
        request,
        ctx,
        name,
        "access",
        lambda: operator_admin.set_access(
            svc,
            ctx.operator,
            name,
            roles=_roles(roles or []),
            scope=_words(scope),
            groups=_words(groups),
        ),
    )


@router.post(BASE + "/{name}/revoke-token", response_model=None)
def revoke_token(request: Request, ctx: CheckedDep, name: NamePath) -> Response:
    svc = services(request)
    return _change(
        request, ctx, name, "revoked", lambda: operator_admin.revoke_token(svc, ctx.operator, name)
    )


@router.post(BASE + "/{name}/reset-second-factor", response_model=None)
def reset_second_factor(request: Request, ctx: CheckedDep, name: NamePath) -> Response:
    svc = services(request)
    return _change(
        request,
        ctx,
        name,
        "reset",
        lambda: operator_admin.reset_second_factor(svc, ctx.operator, name),
    )


def _show_once(
    request: Request, ctx: ConsoleContext, name: str, label: str, make: Callable[[], str]
) -> Response:
    """Run ``make`` (which returns a secret) and show the secret on this answer only."""
    try:
        secret = make()
    except DomainError as exc:
        account = operator_admin.account(services(request), ctx.operator, name)
        status = 403 if exc.error_id in {"self_change_refused", "not_authorized"} else 422
        return _operator_page(request, ctx, account, failure=exc.message, status_code=status)
    account = operator_admin.account(services(request), ctx.operator, name)
    return _operator_page(request, ctx, account, shown={label: secret})


@router.post(BASE + "/{name}/rotate-token", response_model=None)
def rotate_token(
    request: Request,
    ctx: CheckedDep,
    name: NamePath,
    token_days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    svc = services(request)
    return _show_once(
        request,
        ctx,
        name,
        "API token",
        lambda: operator_admin.rotate_token(svc, ctx.operator, name, token_days=token_days),
    )


@router.post(BASE + "/{name}/one-time-password", response_model=None)
def one_time_password(request: Request, ctx: CheckedDep, name: NamePath) -> Response:
    svc = services(request)
    return _show_once(
        request,
        ctx,
        name,
        "One-time password",
        lambda: operator_admin.one_time_password(svc, ctx.operator, name),
    )


@router.post(BASE + "/{name}/enrolment-link", response_model=None)
def enrolment_link(request: Request, ctx: CheckedDep, name: NamePath) -> Response:
    svc = services(request)
    return _show_once(
        request,
        ctx,
        name,
        "Enrolment link",
        lambda: operator_admin.enrolment_link(svc, ctx.operator, name),
    )
