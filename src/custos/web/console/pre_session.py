"""Before a console session exists: the pre-session cookie that the sign-in
forms' CSRF token is bound to, and the cookie holding a sign-in between its
steps (docs/console.md#signing-in).

The pre-session cookie holds a random value; every sign-in form carries an HMAC
of it under the service's MAC key (checked with ``hmac.compare_digest``), so a
form posted from another site, which cannot read the cookie, is refused. Both
cookies are HttpOnly, SameSite=Lax, and Secure with the ``__Host-`` prefix when
the public origin is https."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from custos.domain.operator_accounts import PENDING_TTL
from custos.web.console.session import CsrfRefused, secure_origin, services

PRE_SESSION_MAX_AGE = 3600


def _name(request: Request, base: str) -> str:
    return f"__Host-{base}" if secure_origin(services(request)) else base


def pre_cookie_name(request: Request) -> str:
    return _name(request, "custos_console_pre")


def pending_cookie_name(request: Request) -> str:
    return _name(request, "custos_console_sign_in")


def _mac(request: Request, value: str) -> str:
    key = services(request).mac_key
    return hmac.new(key, b"console-pre-session-csrf:" + value.encode(), "sha256").hexdigest()


def pre_session(request: Request) -> tuple[str, bool]:
    """The browser's pre-session value and whether it is new (then the answer must
    set it with :func:`keep_pre_session`)."""
    value = request.cookies.get(pre_cookie_name(request), "")
    if 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(32), True


def form_csrf(request: Request, value: str) -> str:
    """The CSRF token a sign-in form carries for the pre-session ``value``."""
    return _mac(request, value)


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=secure_origin(services(request)),
        samesite="lax",
        path="/",
        max_age=max_age,
    )


def keep_pre_session(request: Request, response: Response, value: str) -> None:
    _cookie(request, response, pre_cookie_name(request), value, PRE_SESSION_MAX_AGE)


def keep_pending(request: Request, response: Response, token: str) -> None:
    """Hand the browser the token of its sign-in between steps."""
    _cookie(
        request,
        response,
        pending_cookie_name(request),
        token,
        int(PENDING_TTL.total_seconds()),
    )


def drop_pending(request: Request, response: Response) -> None:
    response.delete_cookie(
        pending_cookie_name(request),
        path="/",
        secure=secure_origin(services(request)),
        httponly=True,
    )


def pending_token(request: Request) -> str:
    return request.cookies.get(pending_cookie_name(request), "")


def checked_pre_session(
    request: Request, csrf: Annotated[str | None, Form(max_length=200)] = None
) -> str:
    """A sign-in form's post whose CSRF token (form field or ``X-CSRF-Token``)
    matches the pre-session cookie; returns the pre-session value. Raises
    CsrfRefused."""
    value = request.cookies.get(pre_cookie_name(request), "")
    sent = csrf or request.headers.get("x-csrf-token") or ""
    if not value or not hmac.compare_digest(sent.encode(), _mac(request, value).encode()):
        raise CsrfRefused("this form is out of date or did not come from the console; reload it")
    return value


PreSessionDep = Annotated[str, Depends(checked_pre_session)]
