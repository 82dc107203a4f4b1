"""The sign-in's own-credential pages (docs/console.md#signing-in): choosing a
password (after a one-time password or an enrolment link) and enrolling the
second factor at the first sign-in: a TOTP secret shown once as a QR code and as
text, or a security key. The console session starts once the factor is bound."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from custos.api.auth import client_address
from custos.domain.errors import PasswordRejected, ProofingFailed, Throttled
from custos.domain.operator_accounts import SignInExpired, SignInStage
from custos.service.console import operator_sign_in
from custos.web.console.pre_session import PreSessionDep, pending_token
from custos.web.console.session import safe_next, services
from custos.web.console.sign_in_flow import (
    password_reasons,
    sign_in_page,
    signed_in,
    start_over,
    to_stage,
)

router = APIRouter(include_in_schema=False)

NextQuery = Annotated[str | None, Query(max_length=500)]
NextForm = Annotated[str | None, Form(max_length=500)]
QR_SCALE = 5


def qr_data_uri(uri: str) -> tuple[str, int]:
    """An SVG data URI of the QR code of ``uri`` (the page's CSP allows data:
    images) and its size in pixels."""
    code = segno.make(uri, error="m")
    size = code.symbol_size(scale=QR_SCALE)[0]
    return code.svg_data_uri(scale=QR_SCALE), int(size)


def _new_password_page(
    request: Request, next_path: str | None, reasons: list[str], status_code: int = 200
) -> Response:
    try:
        ctx = operator_sign_in.pending(
            services(request), pending_token(request), SignInStage.NEW_PASSWORD
        )
    except SignInExpired:
        return start_over(request)
    return sign_in_page(
        request,
        "console/sign_in/new_password.html",
        status_code=status_code,
        title="Choose your password",
        next=safe_next(next_path),
        name=ctx.operator.name,
        reasons=reasons,
    )


@router.get("/console/sign-in/new-password", response_model=None)
def new_password_form(request: Request, next: NextQuery = None) -> Response:
    return _new_password_page(request, next, [])


@router.post("/console/sign-in/new-password", response_model=None)
def new_password(
    request: Request,
    _: PreSessionDep,
    password: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
    next: NextForm = None,
) -> Response:
    if password != repeat:
        return _new_password_page(request, next, ["is not the same twice"], status_code=422)
    token = pending_token(request)
    try:
        stage = operator_sign_in.choose_password(services(request), token, password=password)
    except SignInExpired:
        return start_over(request)
    except PasswordRejected as exc:
        reasons = password_reasons(exc)
        return _new_password_page(request, next, reasons, status_code=422)
    return to_stage(request, token, stage, next)


def _enrol_page(
    request: Request, next_path: str | None, failure: str | None = None, status_code: int = 200
) -> Response:
    token = pending_token(request)
    try:
        ctx = operator_sign_in.pending(services(request), token, SignInStage.ENROL)
        enrolment = operator_sign_in.begin_totp_enrolment(services(request), token)
    except SignInExpired:
        return start_over(request)
    qr, size = qr_data_uri(enrolment.otpauth_uri)
    secret = enrolment.secret
    return sign_in_page(
        request,
        "console/sign_in/enrol.html",
        status_code=status_code,
        title="Set up your second factor",
        next=safe_next(next_path),
        name=ctx.operator.name,
        qr=qr,
        qr_size=size,
        secret_groups=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        failure=failure,
    )


@router.get("/console/sign-in/enrol", response_model=None)
def enrol_form(request: Request, next: NextQuery = None) -> Response:
    return _enrol_page(request, next)


@router.post("/console/sign-in/enrol/totp", response_model=None)
def enrol_totp(
    request: Request,
    _: PreSessionDep,
    code: Annotated[str, Form(max_length=20)],
    next: NextForm = None,
) -> Response:
    try:
        operator = operator_sign_in.confirm_totp_enrolment(
            services(request), pending_token(request), code=code, source=client_address(request)
        )
    except SignInExpired:
        return start_over(request)
    except Throttled as exc:
        return _enrol_page(request, next, exc.message, status_code=429)
    except ProofingFailed as exc:
        return _enrol_page(request, next, exc.message, status_code=400)
    return signed_in(request, operator, method="password+totp", next_path=next)


@router.post("/console/sign-in/enrol/key-options", response_model=None)
def enrol_key_options(request: Request, _: PreSessionDep) -> Response:
    try:
        options = operator_sign_in.key_enrolment_options(services(request), pending_token(request))
    except SignInExpired:
        return start_over(request)
    return JSONResponse({"options": options}, headers={"Cache-Control": "no-store"})


@router.post("/console/sign-in/enrol/key", response_model=None)
def enrol_key(
    request: Request,
    _: PreSessionDep,
    credential: Annotated[str, Form(max_length=16_384)],
    label: Annotated[str, Form(max_length=100)] = "security key",
    next: NextForm = None,
) -> Response:
    try:
        operator = operator_sign_in.finish_key_enrolment(
            services(request),
            pending_token(request),
            response=credential,
            label=label,
            source=client_address(request),
        )
    except SignInExpired:
        return start_over(request)
    except Throttled as exc:
        return _enrol_page(request, next, exc.message, status_code=429)
    except ProofingFailed as exc:
        return _enrol_page(request, next, exc.message, status_code=400)
    return signed_in(request, operator, method="password+webauthn", next_path=next)
