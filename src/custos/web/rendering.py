"""Rendering pages: one Jinja2 environment over ``web/templates`` (autoescaped),
one set of headers for every HTML answer (docs/console.md#security)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

import custos
from custos.policy.actions import outcome

#: No inline script or style anywhere: every script and stylesheet is a file
#: from /static/. Pages cannot be framed, forms post only here.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=63072000"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("custos.web", "templates"),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = custos.__version__
    env.filters["when"] = when
    env.filters["outcome"] = outcome
    return env


def when(value: datetime | str | None) -> str:
    """A time as ``2026-12-06 08:15 UTC`` (stored naive times are UTC)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def page_headers(request: Request) -> dict[str, str]:
    """Headers of every page: nothing cached (pages name subjects and cases), a
    strict CSP, no Referer (reset links carry tokens), HSTS over https."""
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": CSP,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    if request.app.state.services.settings.public_origin.startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered with ``context``; ``operator``, ``csrf``, ``nav`` and
    ``title`` default to empty so that every page can extend ``base.html``."""
    values: dict[str, Any] = {"operator": None, "csrf": "", "nav": [], "title": "Custos"}
    values.update(context)
    html = environment().get_template(template).render(**values)
    return HTMLResponse(
        html, status_code=status_code, headers={**page_headers(request), **(headers or {})}
    )
