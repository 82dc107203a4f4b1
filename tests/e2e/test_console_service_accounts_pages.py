"""Service and shared accounts in the console
(docs/console.md#service-accounts), on SQLite and PostgreSQL: the list with
owners, last rotation, next due by the schedule and the flags (unowned,
interactive use recorded, a rotation case open), the logon check (the same
ledger events as the API's), an owner's departure with a successor (R-39:
transfer events, rotation cases), CSRF, roles as the API enforces them, and
no secret on any page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from service_world import owner, rotate, service_account
from sqlalchemy import select

from conftest import World
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import Role, Subject, SubjectKind
from custos.store.tables import ledger

PAGE = "/console/service-accounts"


@pytest.fixture
def desk(world: World) -> World:
    world.operator("hr", Role.ADMIN)
    world.operator("audrey", Role.AUDITOR)
    world.operator("hana", Role.REQUESTER)
    world.operator("olga", Role.AUDITOR, scope=("finance",))
    for person in ("ana", "bo"):
        owner(world, person)
    service_account(world, "svc-backup", ("ana",), age=timedelta(days=100))
    service_account(world, "svc-orphan", ())
    service_account(world, "svc-ghost", ("former-employee",))
    shared = Subject(
        id="team-mailbox",
        display_name="Team mailbox",
        kind=SubjectKind.SHARED,
        groups=frozenset({"staff"}),
        owner="bo",
        owners=("bo", "ana"),
    )
    with world.svc.uow() as uow:
        uow.subjects.add(shared, now=world.clock.now())
        uow.ledger.append(
            [  # what an earlier logon check against Active Directory recorded
                DomainEvent(
                    type=EventType.SERVICE_INTERACTIVE_USE,
                    occurred_at=world.clock.now(),
                    actor="operator:audrey",
                    subject_id="svc-backup",
                    case_id=None,
                    outcome=Outcome.FAILURE,
                    reason="3 logon(s), the last at 2026-11-20T08:00:00+00:00 (logonCount)",
                    data={"target": "ad", "account": "svc-backup"},
                )
            ]
        )
        uow.commit()
    return world


@pytest.fixture
def as_(desk: World) -> Iterator[dict[str, TestClient]]:
    clients = {}
    for name in ("hr", "audrey", "hana", "olga"):
        client = console_client(desk)
        client.__enter__()
        sign_in(client, desk, name)
        clients[name] = client
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def _events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(select(ledger.c.canonical).where(ledger.c.type == type_)).scalars()
        return [json.loads(r) for r in rows]


def _row(page: str, account: str) -> str:
    start = page.index(f'href="/console/subjects/{account}"')
    return page[start : page.index("</tr>", start)]


def test_the_list_shows_owners_schedule_and_flags(desk: World, as_: dict[str, TestClient]) -> None:
    """R-40, R-42: last rotation and next due by max_age; unowned accounts
    (none, or no owner a person) and recorded interactive use are flagged;
    a shared account lists its owners."""
    page = as_["audrey"].get(PAGE)
    assert page.status_code == 200
    backup = _row(page.text, "svc-backup")
    assert "ana" in backup and "never by Custos" in backup
    due = desk.clock.now() - timedelta(days=100) + timedelta(days=90)
    assert due.strftime("%Y-%m-%d") in backup and "every 90d (tier &#39;service&#39;)" in backup
    assert "interactive use" in backup and "3 logon(s)" in backup
    assert "unowned" not in backup and "rotation case open" not in backup
    assert "rotation overdue" in backup  # first recorded 100 days ago, max_age 90 days
    assert "rotation overdue" not in _row(page.text, "svc-ghost")
    assert "unowned" in _row(page.text, "svc-orphan") and "no owner on record" in page.text
    assert "no owner is a person Custos knows: former-employee" in _row(page.text, "svc-ghost")
    assert "bo, ana" in _row(page.text, "team-mailbox")
    assert "Recording an owner's departure needs the admin role." in page.text

    rotate(desk, "ana", "svc-backup")  # the owner asks, approval, execution
    after = _row(as_["audrey"].get(PAGE).text, "svc-backup")
    assert "never by Custos" not in after and "rotation case open" in after
    assert "rotation overdue" not in after
    assert (desk.clock.now() + timedelta(days=90)).strftime("%Y-%m-%d") in after


def test_the_logon_check_records_what_the_api_records(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """The built-in directory cannot report logons: the page says so, and a
    check answers for each linked account; nothing secret is on the page."""
    csrf = csrf_of(as_["audrey"].get(PAGE).text)
    checked = as_["audrey"].post(f"{PAGE}/svc-backup/interactive-use", data={"csrf": csrf})
    assert checked.status_code == 200
    assert "Logons of svc-backup" in checked.text
    assert "cannot report" in checked.text and "cannot report logons" in checked.text
    assert "old-svc-backup-password-1" not in checked.text
    api = as_["audrey"].post(
        "/api/v1/service-accounts/svc-backup/interactive-use",
        headers={"Authorization": f"Bearer {desk.tokens['audrey']}"},
    )
    assert [r["status"] for r in api.json()] == ["cannot_report"]
    no_csrf = as_["audrey"].post(f"{PAGE}/svc-backup/interactive-use")
    assert no_csrf.status_code == 403 and "csrf_refused" in no_csrf.text
    human = as_["audrey"].post(f"{PAGE}/ana/interactive-use", data={"csrf": csrf})
    assert human.status_code == 422 and "Error id: not_a_service_account" in human.text
    hidden = as_["olga"].post(
        f"{PAGE}/svc-backup/interactive-use", data={"csrf": csrf_of(as_["olga"].get(PAGE).text)}
    )
    assert hidden.status_code == 404
    assert "svc-backup" not in as_["olga"].get(PAGE).text


def test_the_api_reads_of_service_accounts_keep_to_the_operator_scope(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """R-36: an auditor scoped to another group sees none of these accounts
    through the API either: the unowned list leaves them out and the logon
    check answers 404 as for an unknown account, writing nothing to the ledger.
    The check records its flags, so it is a POST; a GET is refused."""
    olga = {"Authorization": f"Bearer {desk.tokens['olga']}"}
    audrey = {"Authorization": f"Bearer {desk.tokens['audrey']}"}
    client = as_["audrey"]
    everyone = client.get("/api/v1/service-accounts/unowned", headers=audrey)
    assert sorted(u["service_id"] for u in everyone.json()) == ["svc-ghost", "svc-orphan"]
    scoped = client.get("/api/v1/service-accounts/unowned", headers=olga)
    assert scoped.status_code == 200 and scoped.json() == []

    before = len(_events(desk, EventType.SERVICE_INTERACTIVE_USE))
    hidden = client.post("/api/v1/service-accounts/svc-backup/interactive-use", headers=olga)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["id"] == "not_found"
    unknown = client.post("/api/v1/service-accounts/nobody/interactive-use", headers=olga)
    assert unknown.status_code == 404 and unknown.json()["error"] == {
        **unknown.json()["error"],
        "message": hidden.json()["error"]["message"].replace("svc-backup", "nobody"),
    }
    read = client.get("/api/v1/service-accounts/svc-backup/interactive-use", headers=audrey)
    assert read.status_code == 405
    assert len(_events(desk, EventType.SERVICE_INTERACTIVE_USE)) == before


def test_an_admin_records_a_departure_and_the_successor_takes_over(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """R-39: every service account of the departed owner passes to the
    successor (one ledger event each) and a rotation case opens for each; an
    auditor is refused as the API refuses (403 not_authorized); a successor
    who is no person is refused in words."""
    csrf = csrf_of(as_["audrey"].get(PAGE).text)
    refused = as_["audrey"].post(
        f"{PAGE}/depart", data={"csrf": csrf, "owner": "ana", "successor": "bo", "reason": "x"}
    )
    assert refused.status_code == 403 and "Error id: not_authorized" in refused.text
    page = as_["hr"].get(PAGE).text
    assert '<option value="ana">ana</option>' in page
    csrf = csrf_of(page)
    bad = as_["hr"].post(
        f"{PAGE}/depart",
        data={"csrf": csrf, "owner": "ana", "successor": "svc-orphan", "reason": "HR-1"},
    )
    assert bad.status_code == 422 and "is not a person Custos knows" in bad.text
    assert 'value="svc-orphan"' in bad.text
    assert _events(desk, "service:owner:transferred") == []
    done = as_["hr"].post(
        f"{PAGE}/depart",
        data={"csrf": csrf, "owner": "ana", "successor": "bo", "reason": "HR-4711 left"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?notice=departed"
    after = as_["hr"].get(done.headers["location"]).text
    assert "The departure is recorded in the ledger" in after
    row = _row(after, "svc-backup")
    assert "bo" in row and "ana" not in row and "rotation case open" in row
    [event] = _events(desk, "service:owner:transferred")
    assert (event["subject"], event["data"]["from"], event["data"]["to"]) == (
        "svc-backup",
        "ana",
        "bo",
    )
    assert event["reason"] == "HR-4711 left"


def test_roles_and_navigation(desk: World, as_: dict[str, TestClient]) -> None:
    """A requester may not read the page (403, as the API's reads), nor sees
    the link; auditors and admins do."""
    assert as_["hana"].get(PAGE).status_code == 403
    csrf = csrf_of(as_["hana"].get("/").text)
    check = as_["hana"].post(f"{PAGE}/svc-backup/interactive-use", data={"csrf": csrf})
    assert check.status_code == 403 and "not_authorized" in check.text
    assert 'href="/console/service-accounts"' not in as_["hana"].get("/").text
    for name in ("hr", "audrey"):
        assert 'href="/console/service-accounts"' in as_[name].get("/").text
