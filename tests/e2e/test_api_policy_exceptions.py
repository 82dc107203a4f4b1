"""Exceptions through the HTTP API (docs/exceptions.md), on SQLite and
PostgreSQL: requested, active only after two approvals by people other than
the requester, the end time capped by the policy, revoked, recorded as
expired by the worker, and used by the cases opened under them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import START, World
from custos.api.app import create_app
from custos.domain.model import Role
from custos.propagation.worker import Worker
from custos.reports.compliance import build_report, day_period, render_html
from custos.reports.ledger_status import LedgerStatus
from custos.store.tables import ledger

EXCEPTIONS = "/api/v1/exceptions"


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    world.operator("hana", Role.REQUESTER)
    world.operator("rita", Role.REQUESTER, Role.APPROVER)
    world.operator("ada", Role.APPROVER)
    world.operator("grace", Role.APPROVER)
    world.operator("barbara", Role.AUDITOR)
    with TestClient(create_app(world.svc)) as client:
        yield client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def at(world: World, hours: float) -> str:
    return (world.clock.now() + timedelta(hours=hours)).isoformat()


def request(api: TestClient, world: World, by: str = "rita", **body: Any) -> Any:
    body = {
        "reason": "manager on leave, attestation instead",
        "ticket": "CHG-1042",
        "relaxation": "method",
        "value": "manager_attestation",
        "subjects": ["sam"],
        "ends_at": at(world, 24),
        **body,
    }
    return api.post(EXCEPTIONS, headers=auth(world, by), json=body)


def approve(api: TestClient, world: World, exception_id: str, by: str) -> Any:
    return api.post(f"{EXCEPTIONS}/{exception_id}/approve", headers=auth(world, by))


def active_exception(api: TestClient, world: World, **body: Any) -> dict[str, Any]:
    answer = request(api, world, **body)
    assert answer.status_code == 201, answer.text
    exception_id = answer.json()["id"]
    assert approve(api, world, exception_id, "ada").status_code == 200
    approved = approve(api, world, exception_id, "grace")
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


def open_case(api: TestClient, world: World, subject: str) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": subject, "reason": "call"}
    )
    assert answer.status_code == 201, answer.text
    case_id = answer.json()["id"]
    return dict(api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "barbara")).json())


def events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def test_an_exception_is_active_only_after_two_approvals_by_others(
    world: World, api: TestClient
) -> None:
    """R-32, R-33: pending when requested and after one approval, active after
    a second person approves; each step is a ledger event (R-35)."""
    world.subject("sam")
    requested = request(api, world)
    assert requested.status_code == 201, requested.text
    body = requested.json()
    assert body["status"] == "pending" and body["requester_person"] == "rita"
    first = approve(api, world, body["id"], "ada")
    assert first.status_code == 200 and first.json()["status"] == "pending"
    second = approve(api, world, body["id"], "grace")
    assert second.status_code == 200 and second.json()["status"] == "active"
    assert [a["person"] for a in second.json()["approvals"]] == ["ada", "grace"]
    [asked] = events(world, "governance:exception:requested")
    assert asked["subject"] == "sam" and asked["data"]["exception"] == body["id"]
    approvals = events(world, "governance:exception:approved")
    assert [e["data"]["status"] for e in approvals] == ["pending", "active"]


def test_the_requester_approving_is_refused_and_does_not_count(
    world: World, api: TestClient
) -> None:
    """R-33: the requester holds the approver role yet is refused with
    exception_approval_refused (in the ledger); one person approving twice
    too; the exception stays pending."""
    world.subject("sam")
    exception_id = request(api, world).json()["id"]
    own = approve(api, world, exception_id, "rita")
    assert own.status_code == 403
    assert own.json()["error"]["id"] == "exception_approval_refused"
    assert approve(api, world, exception_id, "ada").status_code == 200
    twice = approve(api, world, exception_id, "ada")
    assert twice.json()["error"]["id"] == "exception_approval_refused"
    shown = api.get(f"{EXCEPTIONS}/{exception_id}", headers=auth(world, "ada")).json()
    assert shown["status"] == "pending"
    refused = [
        e for e in events(world, "governance:exception:approved") if e["outcome"] == "denied"
    ]
    assert [e["data"]["error"] for e in refused] == ["exception_approval_refused"] * 2
    # Pending: a case opened now is not relaxed.
    case = open_case(api, world, "sam")
    assert "manager_attestation" not in case["requirements"]["methods"]


def test_an_end_beyond_the_policy_cap_or_none_is_refused(world: World, api: TestClient) -> None:
    """exceptions.max_duration (72 h by default) caps the end; an exception
    without an end is refused; nothing is recorded."""
    world.subject("sam")
    too_long = request(api, world, ends_at=at(world, 73))
    assert too_long.status_code == 422 and too_long.json()["error"]["id"] == "invalid_input"
    assert too_long.json()["error"]["details"]["max_hours"] == 72
    no_end = request(api, world, ends_at=None)
    assert no_end.status_code == 422
    assert request(api, world, ends_at=at(world, 71)).status_code == 201
    assert len(events(world, "governance:exception:requested")) == 1


def test_a_case_opened_under_an_active_exception_records_it(world: World, api: TestClient) -> None:
    """The case's frozen requirements are relaxed (the method allowed beside
    the tier's) and the case's timeline shows governance:exception:used; a
    subject the exception does not cover is untouched."""
    world.subject("sam")
    world.subject("tom")
    exception = active_exception(api, world)
    case = open_case(api, world, "sam")
    assert case["state"] == "proofing"
    assert "manager_attestation" in case["requirements"]["methods"]
    [used] = [e for e in case["timeline"] if e["type"] == "governance:exception:used"]
    assert used["data"]["exception"] == exception["id"]
    other = open_case(api, world, "tom")
    assert "manager_attestation" not in other["requirements"]["methods"]
    assert not [e for e in other["timeline"] if e["type"] == "governance:exception:used"]


def test_an_expired_exception_is_not_used_and_the_worker_records_its_expiry(
    world: World, api: TestClient
) -> None:
    """Past its end an exception relaxes nothing, before the worker ran too;
    the worker then records governance:exception:expired once."""
    world.subject("sam", groups=("staff", "night-shift"))
    exception = active_exception(api, world, subjects=[], group="night-shift", ends_at=at(world, 2))
    world.clock.advance(timedelta(hours=2, minutes=1))
    case = open_case(api, world, "sam")
    assert "manager_attestation" not in case["requirements"]["methods"]
    shown = api.get(f"{EXCEPTIONS}/{exception['id']}", headers=auth(world, "ada")).json()
    assert shown["status"] == "expired" and shown["expired_at"] is None
    Worker(world.svc, owner="exceptions-test").run_once()
    Worker(world.svc, owner="exceptions-test").run_once()
    [expired] = events(world, "governance:exception:expired")
    assert expired["data"]["exception"] == exception["id"]
    shown = api.get(f"{EXCEPTIONS}/{exception['id']}", headers=auth(world, "ada")).json()
    assert shown["expired_at"] is not None
    late = approve(api, world, exception["id"], "rita")
    assert late.status_code == 409 and late.json()["error"]["id"] == "exception_not_active"


def test_a_revoked_exception_relaxes_nothing(world: World, api: TestClient) -> None:
    world.subject("sam")
    exception = active_exception(api, world)
    revoked = api.post(
        f"{EXCEPTIONS}/{exception['id']}/revoke",
        headers=auth(world, "ada"),
        json={"reason": "manager back"},
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    [event] = events(world, "governance:exception:revoked")
    assert event["reason"] == "manager back"
    assert "manager_attestation" not in open_case(api, world, "sam")["requirements"]["methods"]
    listed = api.get(f"{EXCEPTIONS}?status=active", headers=auth(world, "ada")).json()
    assert listed["exceptions"] == []


def test_requesting_needs_the_requester_role(world: World, api: TestClient) -> None:
    world.subject("sam")
    refused = request(api, world, by="ada")
    assert refused.status_code == 403 and refused.json()["error"]["id"] == "not_authorized"


def test_the_compliance_report_lists_active_expired_and_used_exceptions(
    world: World, api: TestClient
) -> None:
    """R-35: the report names each exception by its status at the end of the
    period, with the cases that used it, instead of a count of 0 by
    construction; the HTML shows them and /metrics counts the uses."""
    world.subject("sam")
    world.subject("tom")
    short = active_exception(api, world, subjects=["tom"], ends_at=at(world, 1))
    world.clock.advance(timedelta(minutes=30))
    lasting = active_exception(api, world, ends_at=at(world, 70))
    open_case(api, world, "sam")
    world.clock.advance(timedelta(hours=1))
    Worker(world.svc, owner="exceptions-test").run_once()
    report = build_report(
        world.svc,
        day_period(START.date(), (START + timedelta(days=1)).date()),
        verifier=lambda svc: LedgerStatus("verified", entries=1, heads_checked=1),
    )
    figures = report.to_json()["figures"]["exceptions"]
    assert figures["used"] == 1
    assert [(e["id"], e["cases_used"]) for e in figures["active"]] == [(lasting["id"], 1)]
    assert [(e["id"], e["cases_used"]) for e in figures["expired"]] == [(short["id"], 0)]
    assert figures["active"][0]["approvers"] == ["ada", "grace"]
    assert figures["active"][0]["ticket"] == "CHG-1042"
    assert "by construction" not in figures["note"]
    html = render_html(report)
    assert lasting["id"] in html and short["id"] in html
    assert "<td>CHG-1042</td>" in html
    world.svc.settings = world.svc.settings.model_copy(update={"metrics_enabled": True})
    with TestClient(create_app(world.svc)) as metrics_api:
        metrics = metrics_api.get("/metrics")
    assert "custos_exceptions_used_total 1.0" in metrics.text


def test_an_exception_names_the_ticket_it_answers(world: World, api: TestClient) -> None:
    """R-35: the ticket is part of the record (the answer, the list, the
    ``requested`` ledger event); one missing, blank or malformed is refused
    with a stable error id and nothing is recorded."""
    world.subject("sam")
    answer = request(api, world, ticket=" CHG-1042 ")
    assert answer.status_code == 201, answer.text
    assert answer.json()["ticket"] == "CHG-1042"
    listed = api.get(EXCEPTIONS, headers=auth(world, "barbara")).json()["exceptions"]
    assert [e["ticket"] for e in listed] == ["CHG-1042"]
    [asked] = events(world, "governance:exception:requested")
    assert asked["data"]["ticket"] == "CHG-1042"

    body = {
        "reason": "r",
        "relaxation": "method",
        "value": "manager_attestation",
        "subjects": ["sam"],
        "ends_at": at(world, 24),
    }
    missing = api.post(EXCEPTIONS, headers=auth(world, "rita"), json=body)
    assert missing.status_code == 422, missing.text
    for bad in ("   ", "CHG 1042; DROP", "<b>x</b>"):
        refused = request(api, world, ticket=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["id"] == "invalid_input"
        assert "ticket" in refused.json()["error"]["message"]
    assert len(events(world, "governance:exception:requested")) == 1
    assert len(api.get(EXCEPTIONS, headers=auth(world, "barbara")).json()["exceptions"]) == 1


def test_an_exception_recorded_before_tickets_reads_without_one(
    world: World, api: TestClient
) -> None:
    """Rows written before migration 0027 have no ticket: read back as null,
    never as an invented value, and still usable."""
    from custos.store.tables import policy_exceptions

    world.subject("sam")
    exception_id = request(api, world).json()["id"]
    with world.svc.engine.begin() as conn:
        conn.execute(
            policy_exceptions.update()
            .where(policy_exceptions.c.id == exception_id)
            .values(ticket=None)
        )
    shown = api.get(f"{EXCEPTIONS}/{exception_id}", headers=auth(world, "barbara"))
    assert shown.status_code == 200 and shown.json()["ticket"] is None
    assert approve(api, world, exception_id, "ada").status_code == 200
    assert approve(api, world, exception_id, "grace").json()["status"] == "active"
