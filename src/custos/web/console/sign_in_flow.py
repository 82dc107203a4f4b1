"""What the sign-in pages share: rendering a pre-session page with its CSRF token,
moving to a sign-in's next step, finishing it with a console session, and
starting over when the sign-in between steps is gone."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from custos.domain.errors import PasswordRejected
from custos.domain.model import Operator
from custos.domain.operator_accounts import SignInStage
from custos.web.console.pre_session import (
    drop_pending,
    form_csrf,
    keep_pending,
    keep_pre_session,
    pre_session,
)
from custos.web.console.session import safe_next, start_session_response
from custos.web.rendering import render

STAGE_PATHS = {
    SignInStage.NEW_PASSWORD: "/console/sign-in/new-password",
    SignInStage.ENROL: "/console/sign-in/enrol",
    SignInStage.SECOND_FACTOR: "/console/sign-in/second-factor",
}


def with_next(path: str, next_path: str | None) -> str:
    target = safe_next(next_path)
    return path if target == "/" else f"{path}?next={quote(target, safe='/')}"


def sign_in_page(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A pre-session page: its forms carry the CSRF token of the browser's
    pre-session cookie (set here when the browser has none)."""
    value, new = pre_session(request)
    response = render(
        request,
        template,
        status_code=status_code,
        title=context.pop("title", "Sign in"),
        csrf=form_csrf(request, value),
        **context,
    )
    if new:
        keep_pre_session(request, response, value)
    return response


def to_stage(
    request: Request, token: str, stage: SignInStage, next_path: str | None
) -> RedirectResponse:
    """Go to the page of ``stage``, the browser holding the sign-in's token."""
    response = RedirectResponse(with_next(STAGE_PATHS[stage], next_path), status_code=303)
    keep_pending(request, response, token)
    return response


def signed_in(
    request: Request, operator: Operator, *, method: str, next_path: str | None
) -> RedirectResponse:
    """The sign-in is complete: a console session (a new token, R-26) and its page."""
    response = start_session_response(
        request, operator.id, method=method, redirect_to=safe_next(next_path)
    )
    drop_pending(request, response)
    return response


def start_over(request: Request) -> RedirectResponse:
    """The sign-in between steps is gone (expired, used, operator disabled)."""
    response = RedirectResponse("/console/sign-in?expired=1", status_code=303)
    drop_pending(request, response)
    return response


def password_reasons(exc: PasswordRejected) -> list[str]:
    """The fixed texts of the rules a new password broke (never the password)."""
    reasons = exc.details.get("reasons")
    return [str(r) for r in reasons] if isinstance(reasons, list) else [exc.message]
