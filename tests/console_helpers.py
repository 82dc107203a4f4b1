"""Signing operators in to the console in tests without the sign-in page: a
session opened through the service (as the sign-in page and single sign-on do
once the operator authenticated), its cookie put in the client or browser.
The sign-in pages themselves have their own tests."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from conftest import World
from custos.api.app import create_app
from custos.service.console import sessions
from custos.web.console.session import cookie_name

CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def console_client(world: World) -> TestClient:
    """A client of the world's app on its public origin's scheme (https in the
    worlds: the cookie is Secure there, so plain http would not send it)."""
    scheme = world.svc.settings.public_origin.split("://")[0]
    return TestClient(create_app(world.svc), base_url=f"{scheme}://testserver")


def sign_in(client: TestClient, world: World, name: str, *, method: str = "password") -> str:
    """Open a console session for operator ``name`` and give its cookie to
    ``client``; return the session token."""
    token = sessions.open_session(
        world.svc, world.operators[name].id, method=method, source="127.0.0.1"
    )
    client.cookies.set(cookie_name(world.svc), token)
    return token


def csrf_of(html: str) -> str:
    """The CSRF token a signed-in page carries in its forms."""
    found = CSRF_FIELD.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def browser_cookie(world: World, name: str, origin: str) -> dict[str, Any]:
    """A Playwright cookie holding a new console session of operator ``name``
    for a live server at ``origin`` (http on loopback)."""
    token = sessions.open_session(
        world.svc, world.operators[name].id, method="password", source="127.0.0.1"
    )
    return {
        "name": cookie_name(world.svc),
        "value": token,
        "url": origin,
        "httpOnly": True,
        "sameSite": "Lax",
    }
