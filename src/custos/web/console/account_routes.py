"""My account (docs/console.md#my-account): the signed-in operator's roles, scope
and second factors (never a secret), and changing the password behind a full
re-authentication (R-27); every session then ends and a new one starts (R-26).
"Sign out everywhere" is the foundation's ``/console/sign-out-everywhere``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from custos.api.auth import client_address
from custos.domain.errors import InvalidInput, NotAuthorized, PasswordRejected, Throttled
from custos.service.console import operator_account, operator_admin
from custos.service.console.sessions import ConsoleContext
from custos.web.console.session import (
    CheckedDep,
    ConsoleDep,
    page_context,
    services,
    start_session_response,
)
from custos.web.console.sign_in_flow import password_reasons
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)

PATH = "/console/account"


def _page(
    request: Request,
    ctx: ConsoleContext,
    *,
    notice: str | None = None,
    failure: str | None = None,
    reasons: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/account.html",
        status_code=status_code,
        **page_context(request, ctx, "My account"),
        account=operator_admin.account(services(request), None, ctx.operator.name),
        session=ctx.session,
        notice=notice,
        failure=failure,
        reasons=reasons or [],
    )


@router.get(PATH, response_class=HTMLResponse)
def account(
    request: Request, ctx: ConsoleDep, done: Annotated[str | None, Query(max_length=20)] = None
) -> HTMLResponse:
    notice = "Password changed. Your other console sessions ended." if done == "password" else None
    return _page(request, ctx, notice=notice)


@router.post(PATH + "/key-options", response_model=None)
def key_options(request: Request, ctx: CheckedDep) -> Response:
    handle, options = operator_account.begin_key_reauthentication(services(request), ctx.operator)
    return JSONResponse(
        {"options": options, "handle": handle}, headers={"Cache-Control": "no-store"}
    )


@router.post(PATH + "/password", response_model=None)
def change_password(
    request: Request,
    ctx: CheckedDep,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
    method: Annotated[str, Form(max_length=20)] = "",
    response: Annotated[str, Form(max_length=16_384)] = "",
    handle: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    if new != repeat:
        return _page(
            request, ctx, failure="the new password is not the same twice", status_code=422
        )
    try:
        operator_account.change_password(
            services(request),
            ctx.operator,
            current=current,
            new=new,
            method=method or None,
            response=response,
            handle=handle or None,
            source=client_address(request),
        )
    except PasswordRejected as exc:
        reasons = password_reasons(exc)
        return _page(
            request,
            ctx,
            failure="that new password cannot be used:",
            reasons=reasons,
            status_code=422,
        )
    except Throttled as exc:
        return _page(request, ctx, failure=exc.message, status_code=429)
    except InvalidInput as exc:
        return _page(request, ctx, failure=exc.message, status_code=422)
    except NotAuthorized as exc:
        return _page(request, ctx, failure=exc.message, status_code=401)
    return start_session_response(
        request, ctx.operator.id, method=ctx.session.method, redirect_to=PATH + "?done=password"
    )
