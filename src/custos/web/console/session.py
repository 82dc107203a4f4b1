"""The console's session cookie, the signed-in operator as a dependency, CSRF
checks and the navigation (docs/console.md#sessions).

The cookie holds the session token only: HttpOnly, SameSite=Lax (a sign-on
provider redirects back with a top-level GET), Secure with the ``__Host-``
prefix when the public origin is https. Every form and htmx request of a
signed-in page sends the session's CSRF token (a hidden ``csrf`` field, or the
``X-CSRF-Token`` header that ``base.html`` gives htmx); a request without the
right one is refused before anything changes."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse

from custos.api.errors import Unauthenticated
from custos.domain.errors import NotAuthorized
from custos.domain.model import Role
from custos.service.console import sessions
from custos.service.console.sessions import ConsoleContext
from custos.service.ports import Services


class SignInRequired(Unauthenticated):
    """No live console session: pages answer with a redirect to the sign-in page."""

    error_id = "sign_in_required"


class CsrfRefused(NotAuthorized):
    error_id = "csrf_refused"


def secure_origin(svc: Services) -> bool:
    return svc.settings.public_origin.startswith("https://")


def cookie_name(svc: Services) -> str:
    return "__Host-custos_console" if secure_origin(svc) else "custos_console"


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def session_token(request: Request) -> str:
    return request.cookies.get(cookie_name(services(request)), "")


def console_context(request: Request) -> ConsoleContext:
    """The signed-in operator's live session. Raises SignInRequired."""
    token = session_token(request)
    if not token:
        raise SignInRequired("sign in to the console first")
    try:
        return sessions.current(services(request), token)
    except NotAuthorized as exc:
        raise SignInRequired(exc.message) from exc


ConsoleDep = Annotated[ConsoleContext, Depends(console_context)]


def checked_csrf(
    request: Request,
    ctx: ConsoleDep,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
) -> ConsoleContext:
    """The session of a state-changing request whose CSRF token (form field or
    ``X-CSRF-Token`` header) is the session's. Raises CsrfRefused."""
    sent = csrf or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent.encode(), ctx.csrf.encode()):
        raise CsrfRefused("this form is out of date or did not come from the console; reload it")
    return ctx


CheckedDep = Annotated[ConsoleContext, Depends(checked_csrf)]


def start_session_response(
    request: Request, operator_id: str, *, method: str, redirect_to: str = "/"
) -> RedirectResponse:
    """Open a console session for the operator (a new token: R-26) and answer with
    a redirect to ``redirect_to`` that sets the cookie. Raises NotAuthorized for
    a disabled operator."""
    svc = services(request)
    source = request.client.host if request.client else None
    token = sessions.open_session(svc, operator_id, method=method, source=source)
    response = RedirectResponse(safe_next(redirect_to), status_code=303)
    response.set_cookie(
        cookie_name(svc),
        token,
        httponly=True,
        secure=secure_origin(svc),
        samesite="lax",
        path="/",
        max_age=svc.settings.console.absolute_hours * 3600,
    )
    return response


def end_session_response(request: Request, redirect_to: str) -> RedirectResponse:
    response = RedirectResponse(redirect_to, status_code=303)
    svc = services(request)
    response.delete_cookie(cookie_name(svc), path="/", secure=secure_origin(svc), httponly=True)
    return response


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in: ``/`` for anything that could lead
    off the site (a scheme, ``//host``, a backslash)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def sign_in_url(next_path: str) -> str:
    return "/console/sign-in?next=" + quote(safe_next(next_path), safe="/")


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    current: bool = False


#: (path, label, roles any of which shows it); admin sees everything.
NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("/", "Start", ()),
    ("/console/subjects", "Subjects", (Role.REQUESTER, Role.EXECUTOR)),
    ("/console/approvals", "Approvals", (Role.APPROVER,)),
    ("/console/cases", "Cases", (Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, Role.AUDITOR)),
    ("/console/audit/holds", "Holds", (Role.APPROVER, Role.AUDITOR)),
    ("/console/exceptions", "Exceptions", (Role.REQUESTER, Role.APPROVER, Role.AUDITOR)),
    ("/console/campaigns", "Campaigns", (Role.REQUESTER, Role.APPROVER, Role.AUDITOR)),
    ("/console/service-accounts", "Service accounts", (Role.AUDITOR,)),
    ("/console/audit", "Audit", (Role.AUDITOR,)),
    ("/console/admin", "Administration", (Role.ADMIN,)),
    ("/console/account", "My account", ()),
)


def navigation(ctx: ConsoleContext, path: str) -> list[NavItem]:
    """The items the operator's roles show; the one whose href is the longest
    prefix of ``path`` is current (the holds list lies under Audit)."""
    shown = [
        (href, label)
        for href, label, roles in NAV
        if not roles or any(ctx.operator.has_role(r) for r in roles)
    ]
    matching = [
        href for href, _ in shown if (path == href if href == "/" else path.startswith(href))
    ]
    current = max(matching, key=len, default=None)
    return [NavItem(href, label, href == current) for href, label in shown]


def page_context(request: Request, ctx: ConsoleContext, title: str) -> dict[str, Any]:
    """What ``base.html`` needs for a signed-in page."""
    return {
        "operator": ctx.operator,
        "csrf": ctx.csrf,
        "nav": navigation(ctx, request.url.path),
        "title": title,
    }
