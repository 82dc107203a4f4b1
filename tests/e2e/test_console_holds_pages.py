"""Holds in the console (docs/console.md#holds), on SQLite and PostgreSQL: the
holds section of a subject's page (set, lift, and why not in plain words), the
holds list under Audit (filters, a hold on a group), CSRF, and who sees what."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import World
from custos.domain.model import Hold, Role
from custos.service.recovery import cases
from custos.store.tables import holds, ledger

HOLD_ID = re.compile(r"hold-\d{8}-[0-9a-f]{10}")


@pytest.fixture
def desk(world: World) -> World:
    world.subject("alice", groups=("staff",), with_totp=True)
    world.operator("hana", Role.REQUESTER, scope=("staff",))
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    world.operator("barbara", Role.AUDITOR)
    return world


@pytest.fixture
def as_(desk: World) -> Iterator[dict[str, TestClient]]:
    clients = {}
    for name in ("hana", "ada", "grace", "barbara"):
        client = console_client(desk)
        client.__enter__()
        sign_in(client, desk, name)
        clients[name] = client
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def _set_on_alice(client: TestClient, **form: str) -> Any:
    csrf = csrf_of(client.get("/console/subjects/alice").text)
    data = {"csrf": csrf, "subject": "alice", "kind": "legal_hold", "reason": "matter 12"}
    data.update({"ticket": "LEG-12", **form})
    return client.post("/console/holds", data=data, follow_redirects=False)


def _hold_ids(world: World) -> list[str]:
    with world.svc.engine.connect() as conn:
        return list(conn.execute(select(holds.c.id).order_by(holds.c.set_at)).scalars())


def _events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(select(ledger.c.canonical).where(ledger.c.type == type_)).scalars()
        return [json.loads(r) for r in rows]


def test_a_security_approver_sets_a_hold_from_the_subject_page(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """The form on the subject's page sets the hold: the page says so, shows
    the hold and tells its setter that someone else must lift it; the open
    case is blocked; the ledger has the event."""
    case = cases.open_helpdesk_case(
        desk.svc, desk.operators["hana"], subject_id="alice", reason="call"
    )
    answer = _set_on_alice(as_["ada"], ends_at="2030-01-01T10:00")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/subjects/alice?notice=hold_set#holds"
    page = as_["ada"].get(answer.headers["location"]).text
    assert "The hold is set and recorded in the ledger." in page
    assert "Legal hold: every recovery is blocked while it lasts." in page
    assert "matter 12" in page and "Ticket LEG-12" in page and "2030-01-01 10:00 UTC" in page
    assert "You set this hold: a different person must lift it." in page
    assert "/lift" not in page
    [hold_id] = _hold_ids(desk)
    [event] = _events(desk, "governance:hold:set")
    assert event["data"]["hold"] == hold_id and event["data"]["ends_at"].startswith("2030-01-01")
    with desk.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case.id).state == "blocked"


def test_the_setter_is_refused_and_another_security_approver_lifts(
    desk: World, as_: dict[str, TestClient]
) -> None:
    _set_on_alice(as_["ada"])
    [hold_id] = _hold_ids(desk)
    csrf = csrf_of(as_["ada"].get("/console/subjects/alice").text)
    refused = as_["ada"].post(
        f"/console/holds/{hold_id}/lift",
        data={"csrf": csrf, "reason": "done", "subject": "alice"},
    )
    assert refused.status_code == 403
    assert "You set this hold: a different person must lift it." in refused.text
    assert "Error id: hold_lift_by_setter" in refused.text

    page = as_["grace"].get("/console/subjects/alice").text
    assert f'action="/console/holds/{hold_id}/lift"' in page
    lifted = as_["grace"].post(
        f"/console/holds/{hold_id}/lift",
        data={"csrf": csrf_of(page), "reason": "settled", "subject": "alice"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    after = as_["grace"].get(lifted.headers["location"]).text
    assert "The hold is lifted" in after
    assert "No hold stands on this subject or its groups." in after
    assert len(_events(desk, "governance:hold:lifted")) == 1


def test_a_help_desk_agent_sees_holds_but_neither_sets_nor_lifts(
    desk: World, as_: dict[str, TestClient]
) -> None:
    desk.subject("uma", groups=("staff",), holds=(Hold.INCIDENT_FREEZE,))
    page = as_["hana"].get("/console/subjects/uma").text
    assert "Incident freeze: every recovery is blocked until security lifts it." in page
    assert "Setting a hold needs the &#39;approver&#39; role." in page
    assert "Lifting a hold needs the &#39;approver&#39; role." in page
    assert 'action="/console/holds"' not in page and "/lift" not in page
    assert as_["hana"].get("/console/audit/holds").status_code == 403
    assert 'href="/console/audit/holds"' not in page  # not in the navigation either


def test_the_holds_list_filters_and_sets_a_hold_on_a_group(
    desk: World, as_: dict[str, TestClient]
) -> None:
    _set_on_alice(as_["ada"])
    listing = as_["grace"].get("/console/audit/holds")
    assert listing.status_code == 200
    assert re.findall(r'aria-current="page">([^<]+)<', listing.text) == ["Holds"]
    made = as_["grace"].post(
        "/console/holds",
        data={
            "csrf": csrf_of(listing.text),
            "group": "finance",
            "kind": "incident_freeze",
            "reason": "phishing wave",
            "ticket": "IR-5",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/console/audit/holds?notice=hold_set"
    audit = as_["barbara"].get("/console/audit/holds").text
    assert "group &#39;finance&#39;" in audit and "subject &#39;alice&#39;" in audit
    assert len(HOLD_ID.findall(audit)) >= 2
    only_group = as_["barbara"].get("/console/audit/holds?group=finance").text
    assert "phishing wave" in only_group and "matter 12" not in only_group
    assert (
        "No hold in your scope matches."
        in as_["barbara"].get("/console/audit/holds?status=lifted").text
    )
    bad = as_["barbara"].get("/console/audit/holds?status=gone")
    assert bad.status_code == 422 and "invalid_input" in bad.text
    # An auditor reads; the policy's setting role (approver) sets.
    assert "Setting a hold needs the &#39;approver&#39; role." in audit


def test_a_refused_set_keeps_the_form_and_names_the_problem(
    desk: World, as_: dict[str, TestClient]
) -> None:
    answer = _set_on_alice(as_["ada"], ticket="<script>", reason="keep this text")
    assert answer.status_code == 422
    assert "ticket reference" in answer.text and "keep this text" in answer.text
    assert "Error id: invalid_input" in answer.text
    past = _set_on_alice(as_["ada"], ends_at="2020-01-01T10:00")
    assert past.status_code == 422 and "must lie in the future" in past.text
    assert _hold_ids(desk) == []


def test_forms_without_the_session_csrf_token_are_refused(
    desk: World, as_: dict[str, TestClient]
) -> None:
    forged = as_["ada"].post(
        "/console/holds",
        data={
            "csrf": "0" * 64,
            "subject": "alice",
            "kind": "legal_hold",
            "reason": "r",
            "ticket": "T",
        },
    )
    assert forged.status_code == 403 and "csrf_refused" in forged.text
    assert _hold_ids(desk) == []


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"reason": "matter\x0012"}, "NUL character"),
        ({"reasn": "matter 13"}, "fields this page does not take"),
    ],
    ids=["nul", "unknown-field"],
)
def test_a_hold_form_the_page_cannot_take_is_refused_and_nothing_is_set(
    desk: World, as_: dict[str, TestClient], form: dict[str, str], said: str
) -> None:
    """A form field holding NUL (PostgreSQL cannot store one: this answered 500
    there), or a field the route does not declare (a misspelt ``reasn``, once
    dropped in silence), is refused at the door with the stable error id, as
    the API's bodies are; no hold is set and the ledger has no event for it."""
    answer = _set_on_alice(as_["ada"], **form)
    assert answer.status_code == 422, answer.text
    assert "Error id: invalid_input" in answer.text
    assert said in answer.text
    assert _hold_ids(desk) == []
    assert _events(desk, "governance:hold:set") == []
