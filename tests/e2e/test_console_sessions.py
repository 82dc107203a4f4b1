"""The console's sessions (docs/console.md#sessions): server-side, ended when
idle, too old, signed out, signed out everywhere, or the operator disabled;
CSRF on every state-changing form; pages with a strict CSP and no inline script."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from ledger_json import LedgerEvent, ledger_event
from sqlalchemy import select, update

from conftest import World
from custos.domain.model import Role
from custos.store.tables import console_sessions, ledger, operators


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.operator("hana", Role.REQUESTER, Role.APPROVER)
    with console_client(world) as c:
        yield c


def _events(world: World, type_: str) -> list[LedgerEvent]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [ledger_event(r) for r in rows]


def test_without_a_session_every_page_leads_to_the_sign_in_page(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/"
    htmx = client.get("/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"] == "/console/sign-in?next=/"


def test_the_start_page_names_the_operator_under_strict_headers(
    world: World, client: TestClient
) -> None:
    sign_in(client, world, "hana")
    answer = client.get("/")
    assert answer.status_code == 200, answer.text
    assert "Signed in as hana" in answer.text
    assert "Nothing waits for you right now." in answer.text
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    # No inline script: every <script> element loads a file.
    scripts = re.findall(r"<script([^>]*)>", answer.text)
    assert scripts and all("src=" in s for s in scripts)
    assert re.search(r"\son[a-z]+=", answer.text) is None


def test_static_assets_are_served_from_the_package(client: TestClient) -> None:
    for path, kind in [
        ("/static/custos.css", "text/css"),
        ("/static/htmx.min.js", "javascript"),
        ("/static/console.js", "javascript"),
    ]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert kind in answer.headers["content-type"], path


def test_a_session_ends_after_the_idle_timeout(world: World, client: TestClient) -> None:
    """R-30: 15 minutes without a request end the session (the default)."""
    sign_in(client, world, "hana")
    world.clock.advance(timedelta(minutes=14))
    assert client.get("/").status_code == 200
    world.clock.advance(timedelta(minutes=14))  # 14 idle again, 28 in all
    assert client.get("/").status_code == 200
    world.clock.advance(timedelta(minutes=15))
    assert client.get("/", follow_redirects=False).status_code == 303
    ended = _events(world, "auth:operator:session_ended")
    assert ended[-1]["data"] == {"operator": world.operators["hana"].id, "reason": "expired"}


def test_a_busy_session_still_ends_at_the_absolute_limit(world: World, client: TestClient) -> None:
    """R-30: 12 hours in all, however busy."""
    sign_in(client, world, "hana")
    for _ in range(12 * 6 - 1):
        world.clock.advance(timedelta(minutes=10))
        assert client.get("/").status_code == 200
    world.clock.advance(timedelta(minutes=10))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_disabled_operator_is_signed_out_at_once(world: World, client: TestClient) -> None:
    sign_in(client, world, "hana")
    assert client.get("/").status_code == 200
    with world.svc.engine.begin() as conn:
        conn.execute(update(operators).where(operators.c.name == "hana").values(active=False))
    assert client.get("/", follow_redirects=False).status_code == 303
    with world.svc.engine.connect() as conn:
        reasons = conn.execute(select(console_sessions.c.end_reason)).scalars().all()
    assert reasons == ["operator disabled"]


def test_signing_out_needs_the_csrf_token_and_ends_the_session(
    world: World, client: TestClient
) -> None:
    sign_in(client, world, "hana")
    csrf = csrf_of(client.get("/").text)
    forged = client.post("/console/sign-out", data={"csrf": "0" * 64})
    assert forged.status_code == 403
    assert "csrf_refused" in forged.text
    assert client.get("/").status_code == 200
    answer = client.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?signed_out=1"
    assert client.get("/", follow_redirects=False).status_code == 303
    assert _events(world, "auth:operator:session_ended")[-1]["data"]["reason"] == "signed out"


def test_sign_out_everywhere_ends_every_session_of_the_operator(world: World) -> None:
    world.operator("hana", Role.REQUESTER)
    with console_client(world) as laptop, console_client(world) as phone:
        sign_in(laptop, world, "hana")
        sign_in(phone, world, "hana")
        csrf = csrf_of(phone.get("/").text)
        phone.post("/console/sign-out-everywhere", headers={"X-CSRF-Token": csrf})
        assert laptop.get("/", follow_redirects=False).status_code == 303
        assert phone.get("/", follow_redirects=False).status_code == 303
    data = _events(world, "auth:operator:session_ended")[-1]["data"]
    assert data["sessions"] == 2


def test_api_errors_stay_json_and_page_errors_are_pages(world: World, client: TestClient) -> None:
    assert client.get("/api/v1/nothing-here").json()["error"]["id"] == "not_found"
    sign_in(client, world, "hana")
    page = client.get("/console/nothing-here")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Error id: not_found" in page.text


def test_an_htmx_request_that_fails_gets_a_fragment_to_show_in_place(
    world: World, client: TestClient
) -> None:
    """htmx swaps error answers (base.html's htmx-config): a failing htmx action
    gets the message and error id as a fragment, not a whole page."""
    sign_in(client, world, "hana")
    page = client.get("/")
    assert '"[45]..", "swap": true' in page.text
    answer = client.post(
        "/console/sign-out", headers={"HX-Request": "true", "X-CSRF-Token": "0" * 64}
    )
    assert answer.status_code == 403
    assert answer.text.lstrip().startswith('<div class="notice bad" role="alert">')
    assert "Error id: csrf_refused" in answer.text
    assert "<html" not in answer.text
