"""The console's sign-in pages (docs/console.md#signing-in): name and password,
then the second factor; the one-time sign-in link. Every failure reads the same
("sign-in failed"); the password step answers no sooner than the equal-time
floor (custos.api.equal_time, R-19). Enrolment pages: ``enrolment_routes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from custos.api.auth import client_address
from custos.domain.errors import InvalidInput, NotAuthorized, Throttled, TokenInvalid
from custos.domain.operator_accounts import SignInExpired, SignInStage
from custos.service.console import operator_links, operator_sign_in
from custos.web.console.pre_session import PreSessionDep, pending_token
from custos.web.console.session import safe_next, services
from custos.web.console.sign_in_flow import sign_in_page, signed_in, start_over, to_stage
from custos.web.console.sso_routes import sso_button

router = APIRouter(include_in_schema=False)

PASSWORD_PATH = "/console/sign-in/password"  # noqa: S105 - a path
NextQuery = Annotated[str | None, Query(max_length=500)]
NextForm = Annotated[str | None, Form(max_length=500)]


def _password_page(
    request: Request,
    *,
    next_path: str | None,
    name: str = "",
    failure: str | None = None,
    status_code: int = 200,
    signed_out: bool = False,
    expired: bool = False,
) -> HTMLResponse:
    return sign_in_page(
        request,
        "console/sign_in/password.html",
        status_code=status_code,
        next=safe_next(next_path),
        name=name,
        failure=failure,
        signed_out=signed_out,
        expired=expired,
        **sso_button(request, safe_next(next_path)),
    )


@router.get("/console/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request,
    next: NextQuery = None,
    signed_out: Annotated[str | None, Query(max_length=5)] = None,
    expired: Annotated[str | None, Query(max_length=5)] = None,
) -> HTMLResponse:
    return _password_page(
        request, next_path=next, signed_out=signed_out is not None, expired=expired is not None
    )


@router.post(PASSWORD_PATH, response_model=None)
def sign_in_password(
    request: Request,
    _: PreSessionDep,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: NextForm = None,
) -> Response:
    svc = services(request)
    try:
        started = operator_sign_in.check_password(
            svc, name=name, password=password, source=client_address(request)
        )
    except Throttled as exc:
        return _password_page(
            request, next_path=next, name=name[:200], failure=exc.message, status_code=429
        )
    except NotAuthorized as exc:
        return _password_page(
            request, next_path=next, name=name[:200], failure=exc.message, status_code=401
        )
    return to_stage(request, started.token, started.stage, next)


def _second_factor_page(
    request: Request, next_path: str | None, failure: str | None = None, status_code: int = 200
) -> Response:
    try:
        ctx = operator_sign_in.pending(
            services(request), pending_token(request), SignInStage.SECOND_FACTOR
        )
    except SignInExpired:
        return start_over(request)
    return sign_in_page(
        request,
        "console/sign_in/second_factor.html",
        status_code=status_code,
        next=safe_next(next_path),
        name=ctx.operator.name,
        factors=[str(f) for f in ctx.factors],
        failure=failure,
    )


@router.get("/console/sign-in/second-factor", response_model=None)
def second_factor_form(request: Request, next: NextQuery = None) -> Response:
    return _second_factor_page(request, next)


@router.post("/console/sign-in/second-factor", response_model=None)
def second_factor(
    request: Request,
    _: PreSessionDep,
    method: Annotated[str, Form(max_length=20)],
    response: Annotated[str, Form(max_length=16_384)] = "",
    next: NextForm = None,
) -> Response:
    try:
        operator = operator_sign_in.verify_second_factor(
            services(request),
            pending_token(request),
            method=method,
            response=response,
            source=client_address(request),
        )
    except SignInExpired:
        return start_over(request)
    except Throttled as exc:
        return _second_factor_page(request, next, exc.message, status_code=429)
    except InvalidInput as exc:
        return _second_factor_page(request, next, exc.message, status_code=422)
    except NotAuthorized as exc:
        return _second_factor_page(request, next, exc.message, status_code=401)
    return signed_in(request, operator, method=f"password+{method}", next_path=next)


@router.post("/console/sign-in/key-options", response_model=None)
def key_options(request: Request, _: PreSessionDep) -> Response:
    try:
        options = operator_sign_in.key_sign_in_options(services(request), pending_token(request))
    except SignInExpired:
        return start_over(request)
    return JSONResponse({"options": options}, headers={"Cache-Control": "no-store"})


@router.get("/console/sign-in/link", response_class=HTMLResponse)
def link_page(request: Request) -> HTMLResponse:
    return sign_in_page(request, "console/sign_in/link.html", failure=None)


@router.post("/console/sign-in/link", response_model=None)
def use_link(
    request: Request, _: PreSessionDep, token: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    try:
        redeemed = operator_links.redeem(services(request), token)
    except TokenInvalid as exc:
        return sign_in_page(
            request, "console/sign_in/link.html", status_code=400, failure=exc.message
        )
    if redeemed.operator is not None:
        return signed_in(request, redeemed.operator, method="demo_link", next_path="/")
    assert redeemed.started is not None
    return to_stage(request, redeemed.started.token, redeemed.started.stage, "/")
