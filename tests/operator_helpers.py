"""Operators with a local console account in tests: a password and a TOTP secret
put in the store as a finished enrolment would, and the sign-in pages driven
through a TestClient as a browser would (pre-session cookie, CSRF field)."""

from __future__ import annotations

import json
import re
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import World
from custos.credentials import seal_contexts
from custos.demo.soft_authenticator import SoftAuthenticator, b64
from custos.service.console import operator_passwords
from custos.store.tables import ledger

#: Passes the operators' password rules (15+ characters, zxcvbn 3, not a name).
PASSWORD = "violet quarry lantern 1987 oboe"
CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def set_password(
    world: World, name: str, password: str = PASSWORD, *, must_change: bool = False
) -> None:
    operator = world.operators[name]
    with world.svc.uow() as uow:
        uow.operator_credentials.set_password(
            operator.id,
            operator_passwords.hash_password(password),
            must_change=must_change,
            now=world.clock.now(),
        )
        uow.commit()


def enrol_totp(world: World, name: str) -> pyotp.TOTP:
    """Bind a fresh TOTP secret to operator ``name``; return its generator."""
    operator = world.operators[name]
    secret = pyotp.random_base32(length=32)
    with world.svc.uow() as uow:
        uow.operator_credentials.add_totp(
            operator.id,
            world.svc.sealer.seal(secret, aad=seal_contexts.operator_totp(operator.id)),
            step=0,
            label="test app",
            now=world.clock.now(),
        )
        uow.commit()
    return pyotp.TOTP(secret)


def enrol_key(world: World, name: str) -> SoftAuthenticator:
    """Bind a software security key to operator ``name`` as a finished enrolment would."""
    key = SoftAuthenticator()
    with world.svc.uow() as uow:
        uow.operator_credentials.add_key(
            world.operators[name].id,
            credential_id=b64(key.credential_id),
            public_key=key.cose_public_key(),
            sign_count=0,
            label="test key",
            now=world.clock.now(),
        )
        uow.commit()
    return key


def local_operator(world: World, name: str, *roles: Any, **options: Any) -> pyotp.TOTP:
    """An operator with a password (PASSWORD) and a TOTP; its generator."""
    world.operator(name, *roles, **options)
    set_password(world, name)
    return enrol_totp(world, name)


def form_csrf(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_password(
    client: TestClient, name: str, password: str = PASSWORD, *, next_path: str | None = None
) -> Any:
    """Open the sign-in page (its cookie and CSRF token) and post name and password."""
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    data = {"csrf": form_csrf(page.text), "name": name, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/console/sign-in/password", data=data, follow_redirects=False)


def post_code(client: TestClient, code: str, *, next_path: str | None = None) -> Any:
    page = client.get("/console/sign-in/second-factor", follow_redirects=False)
    assert page.status_code == 200, page.text
    data = {"csrf": form_csrf(page.text), "method": "totp", "response": code}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/console/sign-in/second-factor", data=data, follow_redirects=False)


def sign_in_with_totp(client: TestClient, world: World, name: str, otp: pyotp.TOTP) -> Any:
    """The whole sign-in through the pages; the answer that opens the session."""
    answer = post_password(client, name)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].startswith("/console/sign-in/second-factor")
    return post_code(client, otp.at(world.clock.now()))


def events(world: World, type_: str) -> list[dict[str, Any]]:
    """The ledger entries of ``type_``, oldest first, as canonical JSON."""
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def ledger_text(world: World) -> str:
    """Every ledger entry's canonical text, to check no secret was written."""
    with world.svc.engine.connect() as conn:
        return "\n".join(conn.execute(select(ledger.c.canonical)).scalars())
