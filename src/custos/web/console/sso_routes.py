"""Single sign-on to the console through the OpenID Connect provider of
``[console.oidc]`` (docs/console.md#single-sign-on).

``GET /console/sso/start`` sends the browser to the provider with a new state,
nonce and PKCE challenge, and gives it a binding cookie (HttpOnly, SameSite=Lax,
10 minutes, only sent to ``/console/sso/``) so that the answer is taken only in
the browser that asked. ``GET /console/sso/callback`` takes the provider's answer
and, once the operator is admitted, opens a console session like any sign-in.
Every refusal answers a page with what to do and its stable error id."""

from __future__ import annotations

from typing import Annotated, Final

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custos.api.auth import client_address
from custos.service.console_sso import attempts, sign_in
from custos.sso import errors
from custos.web.console.session import (
    safe_next,
    secure_origin,
    services,
    start_session_response,
)
from custos.web.rendering import render

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("custos.console.sso")

COOKIE_PATH: Final = "/console/sso/"
#: How long the browser keeps its binding: as long as a started sign-in lives.
COOKIE_MAX_AGE: Final = int(attempts.ATTEMPT_TTL.total_seconds())

#: (HTTP status, title, what to do) for each refusal.
ADVICE: Final[dict[type[errors.SsoFailed], tuple[int, str, str]]] = {
    errors.SsoStateInvalid: (
        400,
        "Sign-in expired",
        "Start the sign-in again from the sign-in page, in this browser.",
    ),
    errors.ProviderRefused: (
        403,
        "Sign-in not completed",
        "Start the sign-in again. If the identity provider keeps refusing, tell your "
        "administrator the error id below.",
    ),
    errors.TooManyStarts: (
        429,
        "Too many sign-ins started",
        "Wait a few minutes, then start the sign-in again.",
    ),
    errors.ProviderUnavailable: (
        502,
        "Identity provider unavailable",
        "Try again in a few minutes. If it keeps failing, tell your administrator the "
        "error id below and the time.",
    ),
    errors.IdTokenInvalid: (
        403,
        "Sign-in not accepted",
        "Tell your administrator the error id below and the time: the identity "
        "provider's answer did not pass Custos's checks.",
    ),
    errors.ClaimsInvalid: (
        403,
        "Sign-in not accepted",
        "Tell your administrator the error id below: the identity provider does not "
        "send what Custos needs to know who you are.",
    ),
    errors.NoRoleMapped: (
        403,
        "No access to the console",
        "Ask an administrator to add you to a group that gives a Custos role.",
    ),
    errors.OperatorDisabled: (
        403,
        "Operator account disabled",
        "Ask an administrator to enable your operator account.",
    ),
    errors.OperatorConflict: (
        409,
        "Operator account conflict",
        "Ask an administrator: an operator for you exists under another name.",
    ),
}


def sso_button(request: Request, next_path: str = "/") -> dict[str, str | None]:
    """What ``console/_sso_button.html`` needs on the sign-in page: the button's
    label (None when single sign-on is not configured) and where to go after."""
    oidc = services(request).settings.console.oidc
    return {"sso_label": oidc.label if oidc else None, "next_path": safe_next(next_path)}


def binding_cookie(request: Request) -> str:
    return "__Secure-custos_sso" if secure_origin(services(request)) else "custos_sso"


def _refusal_page(request: Request, exc: errors.SsoFailed) -> HTMLResponse:
    status, title, what_to_do = next(
        (advice for kind, advice in ADVICE.items() if isinstance(exc, kind)),
        (403, "Sign-in not accepted", "Start the sign-in again."),
    )
    page = render(
        request,
        "error.html",
        status_code=status,
        title=title,
        message=exc.message,
        error_id=exc.error_id,
        what_to_do=what_to_do,
        back_href="/console/sign-in",
        back_label="Back to the sign-in page",
    )
    page.delete_cookie(
        binding_cookie(request), path=COOKIE_PATH, secure=secure_origin(services(request))
    )
    return page


@router.get("/console/sso/start")
def start(
    request: Request,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> Response:
    """Send the browser to the identity provider. 404 when single sign-on is off."""
    svc = services(request)
    try:
        started = attempts.begin(
            svc,
            binding=request.cookies.get(binding_cookie(request)),
            return_to=next_path,
            source=client_address(request),
        )
    except errors.SsoFailed as exc:
        log.warning("console_sso_not_started", error_id=exc.error_id, reason=exc.message)
        page = _refusal_page(request, exc)
        if isinstance(exc, errors.TooManyStarts):
            page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        binding_cookie(request),
        started.binding,
        max_age=COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure_origin(svc),
        samesite="lax",
    )
    return response


@router.get("/console/sso/callback")
def callback(
    request: Request,
    state: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    iss: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
    error_uri: Annotated[str | None, Query(max_length=2000)] = None,
    session_state: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """The provider's answer: a console session, or a page saying why not.
    ``error_description``, ``error_uri`` and ``session_state`` are accepted and
    not used (the provider's own words are not shown on Custos's pages)."""
    svc = services(request)
    answer = sign_in.ProviderAnswer(state=state, code=code, error=error, iss=iss)
    try:
        done = sign_in.finish(
            svc,
            answer,
            binding=request.cookies.get(binding_cookie(request)),
            source=client_address(request),
        )
    except errors.SsoFailed as exc:
        return _refusal_page(request, exc)
    response = start_session_response(
        request, done.operator.id, method="oidc", redirect_to=done.return_to
    )
    response.delete_cookie(binding_cookie(request), path=COOKIE_PATH, secure=secure_origin(svc))
    return response
