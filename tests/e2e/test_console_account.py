"""My account (docs/console.md#my-account): what the operator holds without a
secret, and changing the password behind a full re-authentication (R-27): the
current password and a second factor; every session then ends and a new one
starts (R-26)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx2
import pyotp
import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from operator_helpers import (
    PASSWORD,
    enrol_key,
    events,
    ledger_text,
    local_operator,
    post_password,
    set_password,
    sign_in_with_totp,
)
from webauthn_authenticator import ORIGIN

from conftest import World
from custos.domain.model import Role
from custos.web.console.session import cookie_name

NEW = "maple harbour cinnamon 2044 kite"


@pytest.fixture
def otp(world: World) -> pyotp.TOTP:
    return local_operator(world, "hana", Role.REQUESTER, Role.APPROVER, scope=("staff",))


@pytest.fixture
def client(world: World, otp: pyotp.TOTP) -> Iterator[TestClient]:
    with console_client(world) as c:
        assert sign_in_with_totp(c, world, "hana", otp).status_code == 303
        yield c


def _change(client: TestClient, world: World, **fields: str) -> httpx2.Response:
    csrf = csrf_of(client.get("/console/account").text)
    data = {"csrf": csrf, "method": "totp", "current": PASSWORD, "new": NEW, "repeat": NEW}
    return client.post("/console/account/password", data={**data, **fields}, follow_redirects=False)


def test_the_account_page_shows_roles_scope_and_factors_without_secrets(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    page = client.get("/console/account")
    assert page.status_code == 200
    for shown in ("approver, requester", "staff", "Authenticator app", "password+totp"):
        assert shown in page.text, shown
    assert otp.secret not in page.text and world.tokens["hana"] not in page.text
    assert 'action="/console/sign-out-everywhere"' in page.text


def test_changing_the_password_needs_the_current_one_and_a_code(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    old_session = client.cookies[cookie_name(world.svc)]
    world.clock.advance(timedelta(seconds=31))
    wrong = _change(client, world, current="not " + PASSWORD, response=otp.at(world.clock.now()))
    assert wrong.status_code == 401 and "the current password or the second factor" in wrong.text
    no_code = _change(client, world, response="000000")
    assert no_code.status_code == 401
    weak = _change(client, world, new="hana12345", repeat="hana12345", response="123456")
    assert weak.status_code == 422 and "at least 15 characters" in weak.text
    failed = events(world, "auth:operator:sign_in_failed")
    assert [e["data"]["step"] for e in failed] == ["reauthentication", "reauthentication"]

    world.clock.advance(timedelta(seconds=31))
    done = _change(client, world, response=otp.at(world.clock.now()))
    assert done.status_code == 303 and done.headers["location"] == "/console/account?done=password"
    new_session = client.cookies[cookie_name(world.svc)]
    assert new_session != old_session
    assert "Password changed" in client.get(done.headers["location"]).text
    assert (
        events(world, "admin:operator:password_set")[-1]["actor"] == world.operators["hana"].actor
    )
    assert events(world, "auth:operator:session_ended")[-1]["data"]["reason"] == "password changed"
    assert NEW not in ledger_text(world) and PASSWORD not in ledger_text(world)

    with console_client(world) as other:
        other.cookies.set(cookie_name(world.svc), old_session)
        assert other.get("/", follow_redirects=False).status_code == 303, "old session ended"
    with console_client(world) as later:
        assert post_password(later, "hana", PASSWORD).status_code == 401
        assert post_password(later, "hana", NEW).status_code == 303


def test_changing_the_password_with_a_security_key(world: World) -> None:
    world.operator("kim", Role.EXECUTOR)
    set_password(world, "kim")
    key = enrol_key(world, "kim")
    with console_client(world) as c:
        sign_in(c, world, "kim")
        page = c.get("/console/account")
        assert 'data-options="/console/account/key-options"' in page.text
        csrf = csrf_of(page.text)
        answer = c.post("/console/account/key-options", headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assertion = json.dumps(key.assert_(body["options"], origin=ORIGIN))
        data = {
            "csrf": csrf,
            "method": "webauthn",
            "current": PASSWORD,
            "new": NEW,
            "repeat": NEW,
            "response": assertion,
            "handle": body["handle"],
        }
        done = c.post("/console/account/password", data=data, follow_redirects=False)
        assert done.status_code == 303, done.text
        # The handle and its challenge were used once.
        csrf = csrf_of(c.get("/console/account").text)
        again = c.post(
            "/console/account/password",
            data={**data, "csrf": csrf, "current": NEW, "new": PASSWORD, "repeat": PASSWORD},
            follow_redirects=False,
        )
        assert again.status_code == 401
