"""Exceptions in the console (docs/console.md#exceptions), on SQLite and
PostgreSQL: the list and its filter, the request form (the end time capped by
the policy), approvals by two people neither the requester (the requester and
one person twice refused in words with the error id, each refusal in the
ledger as the API records it), revoking, the cases that used one, CSRF, scope
and who sees what."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import World
from custos.domain.model import Role
from custos.service.recovery import cases
from custos.store.tables import ledger

EXC_ID = re.compile(r"exc-\d{8}-[0-9a-f]{10}")
PAGE = "/console/exceptions"


@pytest.fixture
def desk(world: World) -> World:
    world.subject("sam", groups=("staff",))
    world.subject("fin", groups=("finance",))
    world.operator("rita", Role.REQUESTER, Role.APPROVER)
    world.operator("hana", Role.REQUESTER, scope=("staff",))
    world.operator("ada", Role.APPROVER)
    world.operator("grace", Role.APPROVER)
    world.operator("barbara", Role.AUDITOR)
    world.operator("eve", Role.EXECUTOR)
    return world


@pytest.fixture
def as_(desk: World) -> Iterator[dict[str, TestClient]]:
    clients = {}
    for name in ("rita", "hana", "ada", "grace", "barbara", "eve"):
        client = console_client(desk)
        client.__enter__()
        sign_in(client, desk, name)
        clients[name] = client
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def _local(world: World, hours: float) -> str:
    """A ``datetime-local`` value ``hours`` from the world's now (UTC)."""
    return (world.clock.now() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def _request(client: TestClient, world: World, **form: str) -> Any:
    csrf = csrf_of(client.get(PAGE).text)
    data = {
        "csrf": csrf,
        "reason": "manager on leave, attestation instead",
        "ticket": "CHG-1042",
        "target": "subjects",
        "subjects": "sam",
        "relaxation": "approvals",
        "value": "1",
        "ends_at": _local(world, 24),
        **form,
    }
    return client.post(PAGE, data=data, follow_redirects=False)


def _requested(client: TestClient, world: World, **form: str) -> str:
    answer = _request(client, world, **form)
    assert answer.status_code == 303, answer.text
    found = EXC_ID.search(answer.headers["location"])
    assert found and answer.headers["location"].endswith("?notice=requested")
    return found.group(0)


def _approve(client: TestClient, exception_id: str) -> Any:
    csrf = csrf_of(client.get(PAGE).text)
    return client.post(
        f"{PAGE}/{exception_id}/approve", data={"csrf": csrf}, follow_redirects=False
    )


def _events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(select(ledger.c.canonical).where(ledger.c.type == type_)).scalars()
        return [json.loads(r) for r in rows]


def test_requested_then_approved_by_two_others_and_the_refusals_in_words(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """R-32, R-33: the requester's own approval and one person's second
    approval are refused (403 exception_approval_refused, in plain words, in
    the ledger as denied); two others make it active."""
    exception_id = _requested(as_["rita"], desk)
    page = as_["rita"].get(f"{PAGE}/{exception_id}?notice=requested").text
    assert "The exception is requested and recorded in the ledger." in page
    assert "<dt>Requested by</dt><dd>rita</dd>" in page  # the operator's name, not an id
    assert "You requested this exception: two other people must approve it." in page
    assert f'action="/console/exceptions/{exception_id}/approve"' not in page
    [requested] = _events(desk, "governance:exception:requested")
    assert requested["data"]["exception"] == exception_id

    own = _approve(as_["rita"], exception_id)
    assert own.status_code == 403
    assert "You requested this exception: two other people must approve it." in own.text
    assert "Error id: exception_approval_refused" in own.text

    assert _approve(as_["ada"], exception_id).status_code == 303
    again = _approve(as_["ada"], exception_id)
    assert again.status_code == 403
    assert "You already approved this exception; a second, different person" in again.text
    assert "Error id: exception_approval_refused" in again.text
    assert "pending" in as_["ada"].get(f"{PAGE}/{exception_id}").text

    done = _approve(as_["grace"], exception_id)
    assert done.status_code == 303
    shown = as_["grace"].get(done.headers["location"]).text
    assert "Your approval is recorded in the ledger." in shown
    assert "Two people approved it: it is active." in shown
    approvals = _events(desk, "governance:exception:approved")
    assert [e["outcome"] for e in approvals] == ["denied", "success", "denied", "success"]
    assert approvals[-1]["data"]["status"] == "active"

    listing = as_["barbara"].get(f"{PAGE}?status=active").text
    assert exception_id in listing and "fewer approvals: 1" in listing
    assert exception_id not in as_["barbara"].get(f"{PAGE}?status=pending").text


def test_an_end_time_beyond_the_policy_cap_is_refused_with_the_form_kept(
    desk: World, as_: dict[str, TestClient]
) -> None:
    answer = _request(as_["rita"], desk, ends_at=_local(desk, 24 * 30), reason="too long")
    assert answer.status_code == 422
    assert "An exception lasts at most 72 h (policy exceptions.max_duration)." in answer.text
    assert "Error id: invalid_input" in answer.text
    assert ">too long</textarea>" in answer.text
    none = _request(as_["rita"], desk, ends_at="")
    assert none.status_code == 422 and "none is open-ended" in none.text
    assert _events(desk, "governance:exception:requested") == []


def test_the_ticket_is_asked_for_kept_in_the_form_and_shown(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """R-35: a request without a ticket reference is refused in words with the
    form kept and nothing recorded; one with it shows the ticket in the list
    and on the exception's page."""
    blank = _request(as_["rita"], desk, ticket=" ", reason="kept reason")
    assert blank.status_code == 422
    assert "Error id: invalid_input" in blank.text and "ticket reference" in blank.text
    assert ">kept reason</textarea>" in blank.text
    assert _events(desk, "governance:exception:requested") == []
    exception_id = _requested(as_["rita"], desk, ticket="INC-77")
    assert "<dt>Ticket</dt><dd>INC-77</dd>" in as_["rita"].get(f"{PAGE}/{exception_id}").text
    assert "Ticket INC-77" in as_["rita"].get(PAGE).text
    [requested] = _events(desk, "governance:exception:requested")
    assert requested["data"]["ticket"] == "INC-77"


def test_a_revoked_exception_relaxes_nothing_and_the_detail_lists_its_cases(
    desk: World, as_: dict[str, TestClient]
) -> None:
    exception_id = _requested(as_["rita"], desk, target="group", group="staff", subjects="")
    for name in ("ada", "grace"):
        assert _approve(as_[name], exception_id).status_code == 303
    case = cases.open_helpdesk_case(
        desk.svc, desk.operators["hana"], subject_id="sam", reason="call"
    )
    page = as_["barbara"].get(f"{PAGE}/{exception_id}").text
    assert f'href="/console/cases/{case.id}"' in page
    assert "Revoking needs the approver role, or being its requester." in page

    csrf = csrf_of(as_["ada"].get(f"{PAGE}/{exception_id}").text)
    empty = as_["ada"].post(f"{PAGE}/{exception_id}/revoke", data={"csrf": csrf, "reason": " "})
    assert empty.status_code == 422 and "Error id: invalid_input" in empty.text
    revoked = as_["ada"].post(
        f"{PAGE}/{exception_id}/revoke",
        data={"csrf": csrf, "reason": "manager is back"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    after = as_["ada"].get(revoked.headers["location"]).text
    assert "The exception is revoked and recorded in the ledger" in after
    assert "This exception is revoked: nothing to revoke." in after
    [event] = _events(desk, "governance:exception:revoked")
    assert event["reason"] == "manager is back"
    later = cases.open_helpdesk_case(
        desk.svc, desk.operators["hana"], subject_id="sam", reason="again"
    )
    assert f'href="/console/cases/{later.id}"' not in as_["ada"].get(f"{PAGE}/{exception_id}").text


def test_csrf_roles_and_scope_as_the_api_enforces_them(
    desk: World, as_: dict[str, TestClient]
) -> None:
    """No CSRF: refused, nothing recorded; an approver without the requester
    role cannot request (403), an exception outside the scope is 404 for the
    page and its actions; the navigation shows the page to its users only."""
    no_csrf = as_["rita"].post(PAGE, data={"reason": "x", "subjects": "sam", "value": "1"})
    assert no_csrf.status_code == 403 and "csrf_refused" in no_csrf.text
    refused = _request(as_["ada"], desk)
    assert refused.status_code == 403 and "Error id: not_authorized" in refused.text
    assert _events(desk, "governance:exception:requested") == []
    hidden = _requested(as_["rita"], desk, subjects="fin")
    assert as_["hana"].get(f"{PAGE}/{hidden}").status_code == 404
    assert hidden not in as_["hana"].get(PAGE).text
    assert _approve(as_["hana"], hidden).status_code == 404
    unknown = _request(as_["hana"], desk, subjects="fin")
    assert unknown.status_code == 404
    for name in ("rita", "ada", "barbara"):
        assert 'href="/console/exceptions"' in as_[name].get("/").text
    assert 'href="/console/exceptions"' not in as_["eve"].get("/").text
    assert as_["eve"].get(PAGE).status_code == 200  # the API lists them to any operator too
