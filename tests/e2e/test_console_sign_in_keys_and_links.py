"""Security keys as an operator's second factor (enrolled at the first sign-in,
then used at every sign-in), and the one-time console links: an enrolment link
leads to choosing a password, a demo link is a complete sign-in; both single
use, stored hashed (docs/console.md#signing-in)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from console_helpers import console_client
from fastapi.testclient import TestClient
from operator_helpers import PASSWORD, events, form_csrf, ledger_text, post_password, set_password
from sqlalchemy import select
from webauthn_authenticator import ORIGIN, SoftAuthenticator

from conftest import World
from custos.credentials.tokens import token_digest
from custos.domain.model import Role
from custos.service.console import operator_admin
from custos.service.console.demo_sign_in import issue_demo_links
from custos.store.tables import operator_links
from custos.web.console.session import cookie_name


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with console_client(world) as c:
        yield c


def _options(client: TestClient, path: str, csrf: str) -> dict[str, Any]:
    answer = client.post(path, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    options: dict[str, Any] = answer.json()["options"]
    return options


def test_a_security_key_enrolled_at_first_sign_in_signs_in_afterwards(
    world: World, client: TestClient
) -> None:
    world.operator("kim", Role.EXECUTOR)
    set_password(world, "kim")
    key = SoftAuthenticator()
    assert post_password(client, "kim").headers["location"] == "/console/sign-in/enrol"
    csrf = form_csrf(client.get("/console/sign-in/enrol").text)
    creation = _options(client, "/console/sign-in/enrol/key-options", csrf)
    assert creation["authenticatorSelection"]["userVerification"] == "required"
    done = client.post(
        "/console/sign-in/enrol/key",
        data={
            "csrf": csrf,
            "credential": json.dumps(key.register(creation, origin=ORIGIN)),
            "label": "blue key",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert events(world, "auth:operator:signed_in")[-1]["data"]["method"] == "password+webauthn"
    bound = events(world, "auth:operator:second_factor_bound")[-1]["data"]
    assert bound["kind"] == "webauthn"

    client.cookies.clear()
    assert post_password(client, "kim").headers["location"] == "/console/sign-in/second-factor"
    page = client.get("/console/sign-in/second-factor")
    assert "Use my security key" in page.text and "Authenticator app" not in page.text
    csrf = form_csrf(page.text)
    request = _options(client, "/console/sign-in/key-options", csrf)
    assertion = json.dumps(key.assert_(request, origin=ORIGIN))
    signed = client.post(
        "/console/sign-in/second-factor",
        data={"csrf": csrf, "method": "webauthn", "response": assertion},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and cookie_name(world.svc) in client.cookies
    # The challenge was answered once: the same assertion does not sign in again.
    client.cookies.clear()
    post_password(client, "kim")
    csrf = form_csrf(client.get("/console/sign-in/second-factor").text)
    replay = client.post(
        "/console/sign-in/second-factor",
        data={"csrf": csrf, "method": "webauthn", "response": assertion},
        follow_redirects=False,
    )
    assert replay.status_code == 401


def test_a_key_from_another_site_is_refused_at_enrolment(world: World, client: TestClient) -> None:
    world.operator("kim", Role.EXECUTOR)
    set_password(world, "kim")
    post_password(client, "kim")
    csrf = form_csrf(client.get("/console/sign-in/enrol").text)
    creation = _options(client, "/console/sign-in/enrol/key-options", csrf)
    phished = SoftAuthenticator().register(creation, origin="https://recovery.example.org.evil")
    refused = client.post(
        "/console/sign-in/enrol/key",
        data={"csrf": csrf, "credential": json.dumps(phished)},
        follow_redirects=False,
    )
    assert refused.status_code == 400 and "not accepted" in refused.text
    assert cookie_name(world.svc) not in client.cookies


def _use_link(client: TestClient, url: str) -> httpx2.Response:
    page = client.get("/console/sign-in/link")
    assert page.status_code == 200 and 'src="/static/sign-in-link.js"' in page.text
    token = url.split("#token=")[1]
    return client.post(
        "/console/sign-in/link",
        data={"csrf": form_csrf(page.text), "token": token},
        follow_redirects=False,
    )


def test_an_enrolment_link_leads_to_a_password_then_a_second_factor_once(
    world: World, client: TestClient
) -> None:
    world.operator("root", Role.ADMIN)
    added = operator_admin.add(
        world.svc,
        world.operators["root"],
        name="lea",
        roles=[Role.REQUESTER],
        scope=["staff"],
        enrolment_link=True,
    )
    link = added.enrolment_link
    assert link and link.startswith("https://recovery.example.org/console/sign-in/link#token=col_")
    token = link.split("#token=")[1]
    with world.svc.engine.connect() as conn:
        stored = conn.execute(select(operator_links.c.digest)).scalars().all()
    assert stored == [token_digest(token)] and token not in ledger_text(world)
    issued = events(world, "admin:operator:link_issued")[-1]
    assert issued["data"]["purpose"] == "enrol" and issued["actor"] == world.operators["root"].actor

    used = _use_link(client, link)
    assert used.status_code == 303
    assert used.headers["location"] == "/console/sign-in/new-password"
    page = client.get("/console/sign-in/new-password")
    chosen = client.post(
        "/console/sign-in/new-password",
        data={"csrf": form_csrf(page.text), "password": PASSWORD, "repeat": PASSWORD},
        follow_redirects=False,
    )
    assert chosen.headers["location"] == "/console/sign-in/enrol"
    assert cookie_name(world.svc) not in client.cookies, "no session before a second factor"

    client.cookies.clear()
    again = _use_link(client, link)
    assert again.status_code == 400 and "not valid" in again.text


def test_an_expired_enrolment_link_is_refused(world: World, client: TestClient) -> None:
    world.operator("root", Role.ADMIN)
    world.operator("lea", Role.REQUESTER)
    link = operator_admin.enrolment_link(world.svc, world.operators["root"], "lea")
    world.clock.advance(timedelta(hours=24, seconds=1))
    assert _use_link(client, link).status_code == 400


def test_a_demo_link_is_a_complete_sign_in_once(world: World, client: TestClient) -> None:
    world.operator("admin.margaret", Role.ADMIN)
    links = issue_demo_links(world.svc, ["admin.margaret"])
    signed = _use_link(client, links["admin.margaret"])
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    assert "Signed in as admin.margaret" in client.get("/").text
    assert events(world, "auth:operator:signed_in")[-1]["data"]["method"] == "demo_link"
    assert events(world, "admin:operator:link_issued")[-1]["data"]["purpose"] == "demo"
    client.cookies.clear()
    assert _use_link(client, links["admin.margaret"]).status_code == 400


def test_a_demo_link_expires_after_thirty_minutes_and_never_works_when_disabled(
    world: World, client: TestClient
) -> None:
    world.operator("admin.margaret", Role.ADMIN)
    world.operator("auditor.barbara", Role.AUDITOR)
    links = issue_demo_links(world.svc, ["admin.margaret", "auditor.barbara"])
    operator_admin.disable(world.svc, "cli:local", "auditor.barbara")
    assert _use_link(client, links["auditor.barbara"]).status_code == 400
    world.clock.advance(timedelta(minutes=30))
    assert _use_link(client, links["admin.margaret"]).status_code == 400
