"""Operator administration in the console (docs/console.md#operators): every
change needs an admin, is a ledger event, and an admin cannot change their own
roles or status; a disabled operator's session and API token stop at once; API
tokens may have a lifetime."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx2
import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from operator_helpers import events, ledger_text, local_operator, post_password

from conftest import World
from custos.domain.model import Role

BASE = "/console/admin/operators"
TOKEN = re.compile(r'<code class="secret">(cop_[A-Za-z0-9_-]{43})</code>')


@pytest.fixture
def admin(world: World) -> Iterator[TestClient]:
    world.operator("root", Role.ADMIN)
    world.operator("hana", Role.REQUESTER, scope=("staff",))
    with console_client(world) as c:
        sign_in(c, world, "root")
        yield c


def _post(client: TestClient, path: str, **data: object) -> httpx2.Response:
    csrf = csrf_of(client.get("/console/account").text)
    return client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)


def _me(world: World, name: str, token: str | None = None) -> int:
    with console_client(world) as api:
        bearer = token or world.tokens[name]
        answer = api.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"})
        return answer.status_code


def test_the_list_and_an_operators_page_show_no_secret(world: World, admin: TestClient) -> None:
    page = admin.get(BASE)
    assert page.status_code == 200
    assert 'href="/console/admin/operators/hana"' in page.text
    detail = admin.get(f"{BASE}/hana")
    assert detail.status_code == 200 and "Disable hana" in detail.text
    for token in world.tokens.values():
        assert token not in page.text and token not in detail.text
    assert admin.get(f"{BASE}/nobody").status_code == 404


def test_a_non_admin_is_refused_every_page_and_change(world: World) -> None:
    with console_client(world) as c:
        world.operator("root", Role.ADMIN)
        world.operator("hana", Role.REQUESTER)
        sign_in(c, world, "hana")
        assert c.get(BASE).status_code == 403
        assert c.get(f"{BASE}/new").status_code == 403
        assert c.get(f"{BASE}/root").status_code == 403
        refused = _post(c, f"{BASE}/root/disable")
        assert refused.status_code == 403
    assert _me(world, "root") == 200
    assert events(world, "admin:operator:disabled") == []


def test_adding_an_operator_shows_its_enrolment_link_and_token_once(
    world: World, admin: TestClient
) -> None:
    answer = _post(
        admin,
        BASE,
        name="lea",
        person="Lea Example",
        roles=["requester", "executor"],
        scope="staff, contractors",
        first="link",
        api_token="1",
        token_days="30",
    )
    assert answer.status_code == 201, answer.text
    text = answer.text
    assert "Shown once" in text and "/console/sign-in/link#token=col_" in text
    token = TOKEN.search(text)
    assert token is not None and _me(world, "lea", token.group(1)) == 200
    created = events(world, "admin:operator:created")[-1]
    assert created["actor"] == world.operators["root"].actor
    assert created["data"]["roles"] == ["executor", "requester"]
    assert created["data"]["scope"] == ["contractors", "staff"]
    assert events(world, "admin:operator:link_issued")[-1]["data"]["purpose"] == "enrol"
    assert token.group(1) not in ledger_text(world)
    # Shown once: the operator's page no longer holds it.
    assert token.group(1) not in admin.get(f"{BASE}/lea").text
    bad = _post(admin, BASE, name="bad name!", roles=["requester"], scope="*", first="none")
    assert bad.status_code == 422 and "operator name" in bad.text


def test_disabling_ends_the_session_and_the_token_at_once(world: World, admin: TestClient) -> None:
    """R-25: the disabled operator's open session and API token are refused."""
    with console_client(world) as theirs:
        sign_in(theirs, world, "hana")
        assert theirs.get("/").status_code == 200
        done = _post(admin, f"{BASE}/hana/disable")
        assert done.status_code == 303
        assert done.headers["location"] == f"{BASE}/hana?done=disabled"
        assert "sessions ended" in admin.get(done.headers["location"]).text
        after = theirs.get("/", follow_redirects=False)
        assert after.status_code == 303 and after.headers["location"].startswith("/console/sign-in")
    assert _me(world, "hana") == 401
    disabled = events(world, "admin:operator:disabled")[-1]
    assert disabled["data"]["sessions_ended"] == 1
    ended = events(world, "auth:operator:session_ended")[-1]
    assert ended["data"]["reason"] == "operator disabled"
    assert ended["actor"] == world.operators["root"].actor

    again = _post(admin, f"{BASE}/hana/disable")
    assert again.status_code == 422
    assert _post(admin, f"{BASE}/hana/enable").status_code == 303
    assert events(world, "admin:operator:enabled")[-1]["data"]["name"] == "hana"
    assert _me(world, "hana") == 200


def test_roles_and_scope_change_with_both_in_the_ledger(world: World, admin: TestClient) -> None:
    answer = _post(
        admin, f"{BASE}/hana/access", roles=["approver"], scope="contractors", groups="cab"
    )
    assert answer.status_code == 303
    changed = events(world, "admin:operator:roles_changed")[-1]["data"]
    assert changed["from"] == {"roles": ["requester"], "scope": ["staff"], "groups": []}
    assert changed["to"] == {"roles": ["approver"], "scope": ["contractors"], "groups": ["cab"]}
    with console_client(world) as api:
        me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {world.tokens['hana']}"})
    assert me.json()["roles"] == ["approver"] and me.json()["scope"] == ["contractors"]
    empty = _post(admin, f"{BASE}/hana/access", scope="staff")
    assert empty.status_code == 422 and "at least one role" in empty.text


def test_an_admin_cannot_change_their_own_roles_or_status(world: World, admin: TestClient) -> None:
    page = admin.get(f"{BASE}/root")
    assert "This is your own account" in page.text and "Disable root" not in page.text
    for path, data in [
        ("disable", {}),
        ("access", {"roles": ["admin", "approver"], "scope": "*"}),
        ("reset-second-factor", {}),
    ]:
        refused = _post(admin, f"{BASE}/root/{path}", **data)
        assert refused.status_code == 403, path
        assert "ask another admin" in refused.text
    assert events(world, "admin:operator:disabled") == []
    assert events(world, "admin:operator:roles_changed") == []
    assert admin.get("/").status_code == 200


def test_token_lifetime_rotation_and_revocation(world: World, admin: TestClient) -> None:
    rotated = _post(admin, f"{BASE}/hana/rotate-token", token_days="1")
    token = TOKEN.search(rotated.text)
    assert token is not None
    assert _me(world, "hana") == 401, "the old token stopped"
    assert _me(world, "hana", token.group(1)) == 200
    assert "active" in admin.get(f"{BASE}/hana").text
    world.clock.advance(timedelta(days=1))
    assert _me(world, "hana", token.group(1)) == 401, "expired"
    sign_in(admin, world, "root")  # a day later the admin's own session ended too
    assert "expired" in admin.get(f"{BASE}/hana").text
    assert "expires_at" in events(world, "admin:operator:token_rotated")[-1]["data"]

    fresh = TOKEN.search(_post(admin, f"{BASE}/hana/rotate-token").text)
    assert fresh is not None and _me(world, "hana", fresh.group(1)) == 200
    assert _post(admin, f"{BASE}/hana/revoke-token").status_code == 303
    assert _me(world, "hana", fresh.group(1)) == 401
    assert events(world, "admin:operator:token_revoked")[-1]["data"]["name"] == "hana"
    assert _post(admin, f"{BASE}/hana/revoke-token").status_code == 422


def test_second_factor_reset_ends_sessions_and_asks_for_a_new_one(
    world: World, admin: TestClient
) -> None:
    local_operator(world, "kim", Role.EXECUTOR)
    with console_client(world) as theirs:
        sign_in(theirs, world, "kim")
        assert _post(admin, f"{BASE}/kim/reset-second-factor").status_code == 303
        assert theirs.get("/", follow_redirects=False).status_code == 303
    reset = events(world, "admin:operator:second_factor_reset")[-1]["data"]
    assert [f["kind"] for f in reset["factors"]] == ["totp"] and reset["sessions_ended"] == 1
    with console_client(world) as theirs:
        assert post_password(theirs, "kim").headers["location"] == "/console/sign-in/enrol"


def test_one_time_password_and_enrolment_link_from_the_operators_page(
    world: World, admin: TestClient
) -> None:
    password = _post(admin, f"{BASE}/hana/one-time-password")
    assert password.status_code == 200 and "One-time password" in password.text
    assert events(world, "admin:operator:password_set")[-1]["data"]["one_time"] is True
    link = _post(admin, f"{BASE}/hana/enrolment-link")
    assert "/console/sign-in/link#token=col_" in link.text
    assert "one-time" in admin.get(f"{BASE}/hana").text


def test_admin_forms_refuse_a_post_without_the_csrf_token(world: World, admin: TestClient) -> None:
    refused = admin.post(f"{BASE}/hana/disable", follow_redirects=False)
    assert refused.status_code == 403 and "csrf_refused" in refused.text
    assert _me(world, "hana") == 200
