"""Operators sign in to the console with a local account (docs/console.md#signing-in):
password, then a TOTP code; one generic answer for every failure; throttled like
subjects' sign-in; CSRF on the sign-in forms before any session exists; the
session token new at sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from console_helpers import console_client
from fastapi.testclient import TestClient
from operator_helpers import (
    PASSWORD,
    events,
    form_csrf,
    ledger_text,
    local_operator,
    post_code,
    post_password,
    set_password,
    sign_in_with_totp,
)

from conftest import World, make_world
from custos.api.app import UNAUTHENTICATED_PATHS
from custos.domain.model import Role
from custos.service.console import operator_admin
from custos.service.signals import throttles
from custos.web.console.session import cookie_name

GENERIC = "sign-in failed: check your name, password and code"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with console_client(world) as c:
        yield c


@pytest.fixture
def otp(world: World) -> pyotp.TOTP:
    return local_operator(world, "hana", Role.REQUESTER)


def test_password_then_totp_code_opens_a_session_with_a_new_token(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    """R-26: the session token is issued at the end of the sign-in, never before."""
    page = client.get("/console/sign-in?next=/console/account")
    assert page.status_code == 200
    assert 'name="password"' in page.text and "single sign-on" not in page.text
    assert page.headers["cache-control"] == "no-store"
    before = dict(client.cookies)
    assert cookie_name(world.svc) not in before

    answer = post_password(client, "hana", next_path="/console/account")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in/second-factor?next=/console/account"
    assert cookie_name(world.svc) not in client.cookies, "no session before the second factor"
    second = client.get(answer.headers["location"])
    assert "Authenticator app" in second.text and "Use my security key" not in second.text

    done = post_code(client, otp.at(world.clock.now()), next_path="/console/account")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/account"
    token = client.cookies.get(cookie_name(world.svc))
    assert token and token.startswith("ccs_") and token not in before.values()
    assert "Signed in as hana" in client.get("/").text
    signed = events(world, "auth:operator:signed_in")[-1]
    assert signed["data"]["method"] == "password+totp"
    assert signed["actor"] == world.operators["hana"].actor


def test_every_failure_answers_the_same_and_is_audited_without_the_password(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    """R-19, R-36: unknown name, wrong password, disabled operator and an operator
    without a password read alike; each failure is a ledger event."""
    world.operator("nopass", Role.REQUESTER)
    local_operator(world, "gone", Role.REQUESTER)
    operator_admin.disable(world.svc, "cli:local", "gone")
    tries = [
        ("nobody-here", PASSWORD),
        ("hana", "wrong " + PASSWORD),
        ("gone", PASSWORD),
        ("nopass", PASSWORD),
    ]
    answers = [(name, post_password(client, name, password)) for name, password in tries]
    for _, answer in answers:
        assert answer.status_code == 401
        assert GENERIC in answer.text
    # The same page but for the name typed, which the form keeps.
    assert len({a.text.replace(f'value="{name}"', "") for name, a in answers}) == 1
    failed = events(world, "auth:operator:sign_in_failed")
    assert len(failed) == 4
    assert failed[0]["actor"] == "anonymous" and "nobody-here" not in str(failed[0])
    assert failed[1]["data"]["step"] == "password"
    assert "wrong " + PASSWORD not in ledger_text(world) and PASSWORD not in ledger_text(world)
    assert "/console/sign-in/password" in UNAUTHENTICATED_PATHS  # the equal-time floor


def test_a_wrong_code_fails_generically_and_a_code_works_once(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    assert post_password(client, "hana").status_code == 303
    wrong = post_code(client, "000000" if otp.at(world.clock.now()) != "000000" else "111111")
    assert wrong.status_code == 401 and GENERIC in wrong.text
    assert events(world, "auth:operator:sign_in_failed")[-1]["data"]["step"] == "second_factor"
    code = otp.at(world.clock.now())
    assert post_code(client, code).status_code == 303
    # The same code again, in a new sign-in: refused (replay).
    client.cookies.clear()
    assert post_password(client, "hana").status_code == 303
    replay = post_code(client, code)
    assert replay.status_code == 401


def test_repeated_failures_are_throttled_alike_for_known_and_unknown_names(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    """R-18, R-19: three free failures, then a growing delay, per (name, source)."""
    for name in ("hana", "nobody-here"):
        statuses = [post_password(client, name, "wrong password!").status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 429], name
    # Even the right password waits for the delay...
    throttled = post_password(client, "hana")
    assert throttled.status_code == 429 and "try again in" in throttled.text
    # ...and is accepted once it passed.
    world.clock.advance(timedelta(seconds=5))
    assert post_password(client, "hana").status_code == 303


def test_sign_in_forms_refuse_a_post_without_the_pre_session_token(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    data = {"name": "hana", "password": PASSWORD}
    bare = client.post("/console/sign-in/password", data=data, follow_redirects=False)
    assert bare.status_code == 403 and "csrf_refused" in bare.text
    client.get("/console/sign-in")
    forged = client.post(
        "/console/sign-in/password", data={**data, "csrf": "0" * 64}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert events(world, "auth:operator:sign_in_failed") == []


def test_first_sign_in_enrols_a_totp_shown_once_as_qr_code_and_text(
    world: World, client: TestClient
) -> None:
    world.operator("new", Role.APPROVER)
    set_password(world, "new")
    answer = post_password(client, "new")
    assert answer.headers["location"] == "/console/sign-in/enrol"
    page = client.get("/console/sign-in/enrol")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in page.text
    secret = page.text.split('<code class="secret">')[1].split("</code>")[0].replace(" ", "")
    assert len(secret) == 32
    # The same secret on a reload of the same sign-in (a mistyped code needs no new scan).
    assert secret in client.get("/console/sign-in/enrol").text.replace(" ", "")
    wrong = client.post(
        "/console/sign-in/enrol/totp",
        data={"csrf": form_csrf(page.text), "code": "12345"},
        follow_redirects=False,
    )
    assert wrong.status_code == 400 and "does not match" in wrong.text
    done = client.post(
        "/console/sign-in/enrol/totp",
        data={"csrf": form_csrf(page.text), "code": pyotp.TOTP(secret).at(world.clock.now())},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "Signed in as new" in client.get("/").text
    bound = events(world, "auth:operator:second_factor_bound")[-1]
    assert bound["data"]["kind"] == "totp" and secret not in ledger_text(world)
    # From now on the sign-in asks for the code.
    client.cookies.clear()
    world.clock.advance(timedelta(seconds=60))
    again = sign_in_with_totp(client, world, "new", pyotp.TOTP(secret))
    assert again.status_code == 303


def test_a_one_time_password_must_be_replaced_before_enrolment(
    world: World, client: TestClient
) -> None:
    world.operator("root", Role.ADMIN)
    added = operator_admin.add(
        world.svc,
        world.operators["root"],
        name="dora",
        roles=[Role.AUDITOR],
        scope=["*"],
        one_time_password=True,
    )
    assert added.one_time_password and added.api_token is None
    answer = post_password(client, "dora", added.one_time_password)
    assert answer.headers["location"] == "/console/sign-in/new-password"
    page = client.get("/console/sign-in/new-password")
    weak = client.post(
        "/console/sign-in/new-password",
        data={"csrf": form_csrf(page.text), "password": "dora1234", "repeat": "dora1234"},
        follow_redirects=False,
    )
    assert weak.status_code == 422 and "at least 15 characters" in weak.text
    chosen = client.post(
        "/console/sign-in/new-password",
        data={"csrf": form_csrf(page.text), "password": PASSWORD, "repeat": PASSWORD},
        follow_redirects=False,
    )
    assert chosen.status_code == 303 and chosen.headers["location"] == "/console/sign-in/enrol"
    assert events(world, "admin:operator:password_set")[-1]["data"]["by"] == "operator at sign-in"
    # The one-time password no longer works.
    client.cookies.clear()
    assert post_password(client, "dora", added.one_time_password).status_code == 401


def test_a_sign_in_left_between_steps_expires(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    assert post_password(client, "hana").status_code == 303
    csrf = form_csrf(client.get("/console/sign-in/second-factor").text)
    world.clock.advance(timedelta(minutes=11))
    page = client.get("/console/sign-in/second-factor", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/sign-in?expired=1"
    late = client.post(
        "/console/sign-in/second-factor",
        data={"csrf": csrf, "method": "totp", "response": otp.at(world.clock.now())},
        follow_redirects=False,
    )
    assert late.headers["location"] == "/console/sign-in?expired=1"
    assert cookie_name(world.svc) not in client.cookies
    assert "expired" in client.get("/console/sign-in?expired=1").text


def test_next_never_leads_off_the_site(world: World, client: TestClient, otp: pyotp.TOTP) -> None:
    answer = post_password(client, "hana", next_path="//evil.example/x")
    assert answer.headers["location"] == "/console/sign-in/second-factor"
    done = post_code(client, otp.at(world.clock.now()), next_path="https://evil.example/")
    assert done.headers["location"] == "/"


def test_single_sign_on_button_only_when_configured(tmp_path: Path) -> None:
    assert "/console/sso/start" not in _sign_in_page(tmp_path / "off", None)
    oidc: dict[str, object] = {
        "issuer": "https://idp.example",
        "client_id": "custos-console",
        "client_secret": {"value": "not-used-here"},
        "role_mapping": [{"group": "helpdesk", "roles": ["requester"], "scope": ["staff"]}],
        "label": "Example SSO",
    }
    page = _sign_in_page(tmp_path / "on", oidc)
    assert 'href="/console/sso/start?next=/console/cases"' in page
    assert "Sign in with Example SSO" in page


def _sign_in_page(folder: Path, oidc: dict[str, object] | None) -> str:
    folder.mkdir()
    console = {"oidc": oidc} if oidc else {}
    world = make_world(f"sqlite:///{folder / 'custos.db'}", folder, console=console)
    try:
        with console_client(world) as c:
            return c.get("/console/sign-in?next=/console/cases").text
    finally:
        world.svc.engine.dispose()


def test_a_lock_after_100_failures_is_lifted_by_an_admins_one_time_password(
    world: World, client: TestClient, otp: pyotp.TOTP
) -> None:
    """R-18: 100 consecutive failures lock the account; an admin's new way in lifts it."""
    key = f"signin:{throttles.operator_who(world.operators['hana'].id)}"
    with world.svc.uow() as uow:
        for _ in range(100):
            uow.limits.reserve_attempt(key, now=world.clock.now(), max_count=None)
        uow.commit()
    locked = post_password(client, "hana")
    assert locked.status_code == 429 and "locked" in locked.text
    password = operator_admin.one_time_password(world.svc, "cli:local", "hana")
    answer = post_password(client, "hana", password)
    assert answer.headers["location"] == "/console/sign-in/new-password"
