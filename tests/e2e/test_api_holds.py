"""Holds through the HTTP API (docs/holds.md), on SQLite and PostgreSQL: set
on a subject or a group, listed, lifted by a different person only; open cases
go to ``blocked`` and back; recovery is refused with ``recovery_blocked`` for
operators while self-service answers as always (R-19); holds end by
themselves at their end time; a fraud flag sets a fraud hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sponsor_attestation import sponsor_attests_over_api, with_sponsor
from sqlalchemy import select

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Employment, Role
from custos.propagation.worker import Worker
from custos.store.tables import ledger

HOLDS = "/api/v1/holds"


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    world.operator("linus", Role.APPROVER)
    world.operator("finn", Role.APPROVER, scope=("finance",), groups=("security-approvers",))
    world.operator("barbara", Role.AUDITOR)
    with TestClient(create_app(world.svc)) as client:
        yield client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def set_hold(api: TestClient, world: World, by: str = "ada", **body: Any) -> dict[str, Any]:
    body = {"kind": "legal_hold", "reason": "litigation 12", "ticket": "LEG-12", **body}
    answer = api.post(HOLDS, headers=auth(world, by), json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def lift(api: TestClient, world: World, hold_id: str, by: str) -> Any:
    return api.post(f"{HOLDS}/{hold_id}/lift", headers=auth(world, by), json={"reason": "settled"})


def open_case(api: TestClient, world: World, subject: str) -> Any:
    return api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": subject, "reason": "call"}
    )


def state_of(api: TestClient, world: World, case_id: str) -> str:
    answer = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "barbara"))
    return str(answer.json()["state"])


def events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def awaiting_approval(api: TestClient, world: World, subject: str) -> str:
    """A contractor's help-desk case past proofing (TOTP and the sponsor's
    attestation), waiting for its approver."""
    world.subject(subject, employment=Employment.CONTRACTOR, groups=("staff",), with_totp=True)
    with_sponsor(world, subject)
    case_id = str(open_case(api, world, subject).json()["id"])
    proof = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now(subject)},
    )
    assert proof.json()["state"] == "proofing", proof.text
    sponsor_attests_over_api(world, api, case_id, auth(world, "hana"))
    assert state_of(api, world, case_id) == "awaiting_approval"
    return case_id


def test_open_cases_go_to_blocked_while_a_hold_stands_and_back_when_lifted(
    world: World, api: TestClient
) -> None:
    """The hold blocks the subject's open cases (one per state it was in), every
    operator action on them answers recovery_blocked, a new case is refused
    with recovery_blocked, and the lift by another security approver puts the
    cases back where they stood. Each set and lift is a ledger event (R-35)."""
    waiting = awaiting_approval(api, world, "carl")
    proofing = str(open_case(api, world, "carl").json()["id"])
    assert state_of(api, world, proofing) == "proofing"

    held = set_hold(api, world, subject="carl")
    assert held["status"] == "standing" and held["set_by_name"] == "ada"
    assert sorted(held["cases_blocked"]) == sorted([waiting, proofing])
    assert state_of(api, world, waiting) == state_of(api, world, proofing) == "blocked"
    detail = api.get(f"/api/v1/cases/{waiting}", headers=auth(world, "barbara")).json()
    assert detail["held_from"] == "awaiting_approval" and held["id"] in detail["outcome_reason"]

    refused = open_case(api, world, "carl")
    assert refused.status_code == 409 and refused.json()["error"]["id"] == "recovery_blocked"
    approve = api.post(
        f"/api/v1/cases/{waiting}/approve", headers=auth(world, "linus"), json={"reason": "ok"}
    )
    assert approve.status_code == 409 and approve.json()["error"]["id"] == "recovery_blocked"

    lifted = lift(api, world, held["id"], by="grace")
    assert lifted.status_code == 200, lifted.text
    body = lifted.json()
    assert body["status"] == "lifted" and body["lifted_by_name"] == "grace"
    assert sorted(body["cases_released"]) == sorted([waiting, proofing])
    assert state_of(api, world, waiting) == "awaiting_approval"
    assert state_of(api, world, proofing) == "proofing"
    detail = api.get(f"/api/v1/cases/{waiting}", headers=auth(world, "barbara")).json()
    assert detail["held_from"] is None and detail["outcome_reason"] == ""
    approve = api.post(
        f"/api/v1/cases/{waiting}/approve", headers=auth(world, "linus"), json={"reason": "ok"}
    )
    assert approve.status_code == 200, approve.text

    [set_event] = events(world, "governance:hold:set")
    assert set_event["actor"] == f"operator:{world.operators['ada'].id}"
    assert set_event["subject"] == "carl" and set_event["reason"] == "litigation 12"
    assert set_event["data"]["kind"] == "legal_hold" and set_event["data"]["ticket"] == "LEG-12"
    [lift_event] = events(world, "governance:hold:lifted")
    assert lift_event["actor"] == f"operator:{world.operators['grace'].id}"
    assert lift_event["reason"] == "settled"
    moves = [e["data"] for e in events(world, "case:case:state_changed") if e["case"] == waiting]
    assert {"from": "awaiting_approval", "to": "blocked"} in moves
    assert {"from": "blocked", "to": "awaiting_approval"} in moves


def test_a_lift_by_the_person_who_set_the_hold_is_refused(world: World, api: TestClient) -> None:
    """Separation of duties (R-33): the setter holds the lifting role yet is
    refused with hold_lift_by_setter; the refusal is in the ledger; the hold
    still stands and still blocks."""
    world.subject("dora")
    held = set_hold(api, world, subject="dora")
    refused = lift(api, world, held["id"], by="ada")
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "hold_lift_by_setter"
    [attempt] = events(world, "governance:hold:lift_refused")
    assert attempt["outcome"] == "denied" and attempt["data"]["error"] == "hold_lift_by_setter"
    shown = api.get(f"{HOLDS}/{held['id']}", headers=auth(world, "ada")).json()
    assert shown["status"] == "standing"
    assert open_case(api, world, "dora").json()["error"]["id"] == "recovery_blocked"


def test_lifting_needs_a_security_approver_and_a_standing_hold(
    world: World, api: TestClient
) -> None:
    world.subject("eve")
    held = set_hold(api, world, subject="eve", by="linus")  # any approver sets
    no_group = lift(api, world, held["id"], by="linus")
    assert no_group.status_code == 403 and no_group.json()["error"]["id"] == "not_authorized"
    assert no_group.json()["error"]["details"]["groups"] == ["security-approvers"]
    wrong_role = lift(api, world, held["id"], by="hana")
    assert wrong_role.status_code == 403 and wrong_role.json()["error"]["id"] == "not_authorized"
    assert lift(api, world, held["id"], by="ada").status_code == 200
    again = lift(api, world, held["id"], by="grace")
    assert again.status_code == 409 and again.json()["error"]["id"] == "hold_not_standing"
    unknown = lift(api, world, "hold-20261125-0000000000", by="grace")
    assert unknown.status_code == 404


def test_a_group_hold_blocks_every_member_including_those_who_join_later(
    world: World, api: TestClient
) -> None:
    """A hold on a group applies to whoever is in it: a member's recovery is
    refused, and so is that of a subject added to the group after the hold."""
    world.subject("kim", groups=("finance",))
    world.subject("olga", groups=("staff",))
    held = set_hold(api, world, group="finance", kind="incident_freeze", by="finn")
    assert held["group"] == "finance" and held["subject"] is None
    kim = open_case(api, world, "kim")
    assert kim.status_code == 409 and kim.json()["error"]["id"] == "recovery_blocked"
    assert open_case(api, world, "olga").status_code == 201
    world.subject("lee", groups=("staff", "finance"))  # joins after the hold
    lee = open_case(api, world, "lee")
    assert lee.status_code == 409 and lee.json()["error"]["id"] == "recovery_blocked"
    # The subject's holds list shows the group's hold.
    listed = api.get(f"{HOLDS}?subject=lee", headers=auth(world, "hana")).json()["holds"]
    assert [h["id"] for h in listed] == [held["id"]]
    # Outside finn's scope: staff. Inside grace's ("*"): lifting is hers to do.
    staff = api.post(
        HOLDS,
        headers=auth(world, "finn"),
        json={"kind": "legal_hold", "group": "staff", "reason": "x", "ticket": "T-1"},
    )
    assert staff.status_code == 403 and staff.json()["error"]["id"] == "out_of_scope"
    assert lift(api, world, held["id"], by="grace").status_code == 200
    assert open_case(api, world, "lee").status_code == 201


def test_self_service_of_a_held_subject_answers_like_an_unknown_account(
    world: World, api: TestClient
) -> None:
    """R-19: a held subject's self-service recovery gets the same statuses and
    bodies as an identifier no account has; no code is sent to the subject."""

    def walk(identifier: str) -> list[tuple[int, Any]]:
        started = api.post("/api/v1/self-service/recoveries", json={"identifier": identifier})
        flow = started.json()["flow"]
        code = api.post(f"/api/v1/self-service/recoveries/{flow}/email-code")
        proof = api.post(
            f"/api/v1/self-service/recoveries/{flow}/proofs",
            json={"method": "email_code", "code": "12345678"},
        )
        first = {k: v for k, v in started.json().items() if k != "flow"}
        return [
            (started.status_code, first),
            (code.status_code, code.json()),
            (proof.status_code, proof.json()),
        ]

    world.subject("held")
    set_hold(api, world, subject="held", kind="fraud")
    held, unknown = walk("held"), walk("nobody-at-all")
    assert held == unknown
    assert held[2][0] == 400 and held[2][1]["error"]["id"] == "proofing_failed"
    assert world.mail("held@example.org", "email_code") == []


def test_a_hold_with_an_end_time_ends_by_itself(world: World, api: TestClient) -> None:
    """At its end time the hold stops counting (read-time), and the worker
    records its end (a ledger event) and puts the case it blocked back."""
    case_id = awaiting_approval(api, world, "fay")
    ends = (world.clock.now() + timedelta(hours=2)).isoformat()
    held = set_hold(api, world, subject="fay", ends_at=ends)
    assert held["cases_blocked"] == [case_id]
    world.clock.advance(timedelta(hours=1))
    Worker(world.svc, owner="holds-test").run_once()
    assert state_of(api, world, case_id) == "blocked"
    assert events(world, "governance:hold:expired") == []

    world.clock.advance(timedelta(hours=1, minutes=1))
    shown = api.get(f"{HOLDS}/{held['id']}", headers=auth(world, "ada")).json()
    assert shown["status"] == "expired" and shown["expired_at"] is None  # not recorded yet
    Worker(world.svc, owner="holds-test").run_once()
    assert state_of(api, world, case_id) == "awaiting_approval"
    [ended] = events(world, "governance:hold:expired")
    assert ended["actor"] == "system:custos" and ended["data"]["hold"] == held["id"]
    shown = api.get(f"{HOLDS}/{held['id']}", headers=auth(world, "ada")).json()
    assert shown["expired_at"] is not None
    assert open_case(api, world, "fay").status_code == 201


def test_a_fraud_flag_sets_a_fraud_hold_that_another_security_approver_lifts(
    world: World, api: TestClient
) -> None:
    """R-43: the flag freezes the subject with a fraud hold record; the flagging
    security approver cannot lift it, another can; the flagged case itself
    stays blocked, a new case opens."""
    world.subject("kit", with_totp=True)
    case_id = str(open_case(api, world, "kit").json()["id"])
    flagged = api.post(
        f"/api/v1/cases/{case_id}/flag-fraud",
        headers=auth(world, "ada"),
        json={"reason": "caller could not answer basics"},
    )
    assert flagged.status_code == 200, flagged.text
    [hold] = api.get(f"{HOLDS}?subject=kit", headers=auth(world, "barbara")).json()["holds"]
    assert hold["kind"] == "fraud" and hold["ticket"] == case_id
    assert hold["set_by"] == f"operator:{world.operators['ada'].id}"
    assert lift(api, world, hold["id"], by="ada").json()["error"]["id"] == "hold_lift_by_setter"
    lifted = lift(api, world, hold["id"], by="grace")
    assert lifted.status_code == 200 and lifted.json()["cases_released"] == []
    assert state_of(api, world, case_id) == "blocked"
    assert open_case(api, world, "kit").status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"kind": "export_review"}, 422, "invalid_input"),
        ({"group": "staff"}, 422, "invalid_input"),  # subject and group both
        ({"subject": None}, 422, "invalid_input"),  # neither
        ({"ends_at": "2030-01-01T10:00:00"}, 422, "invalid_input"),  # no zone
        ({"ends_at": "2020-01-01T10:00:00Z"}, 422, "invalid_input"),  # past
        ({"ticket": "<script>"}, 422, "invalid_input"),
        ({"extra": "field"}, 422, "invalid_input"),
        ({"subject": "nobody"}, 404, "not_found"),
    ],
)
def test_setting_a_hold_refuses_bad_input_with_stable_error_ids(
    world: World, api: TestClient, body: dict[str, Any], status: int, error: str
) -> None:
    world.subject("gus")
    full = {"kind": "legal_hold", "subject": "gus", "reason": "r", "ticket": "T-1", **body}
    answer = api.post(HOLDS, headers=auth(world, "ada"), json=full)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["id"] == error
    assert events(world, "governance:hold:set") == []


def test_setting_needs_the_policys_role_and_the_subject_in_scope(
    world: World, api: TestClient
) -> None:
    world.subject("hal", groups=("staff",))
    body = {"kind": "legal_hold", "subject": "hal", "reason": "r", "ticket": "T-1"}
    by_requester = api.post(HOLDS, headers=auth(world, "hana"), json=body)
    assert by_requester.status_code == 403
    assert by_requester.json()["error"]["id"] == "not_authorized"
    out_of_scope = api.post(HOLDS, headers=auth(world, "finn"), json=body)
    missing = api.post(HOLDS, headers=auth(world, "finn"), json={**body, "subject": "nobody"})
    assert out_of_scope.status_code == missing.status_code == 404
    assert api.post(HOLDS, json=body).status_code == 401


def test_the_list_filters_by_status_subject_and_group_within_scope(
    world: World, api: TestClient
) -> None:
    world.subject("ian", groups=("staff",))
    world.subject("jo", groups=("finance",))
    on_ian = set_hold(api, world, subject="ian")
    on_jo = set_hold(api, world, subject="jo", kind="incident_freeze")
    on_group = set_hold(api, world, group="finance", kind="fraud")
    lift(api, world, on_ian["id"], by="grace")

    def ids(path: str, by: str = "barbara") -> list[str]:
        answer = api.get(path, headers=auth(world, by))
        assert answer.status_code == 200, answer.text
        return [h["id"] for h in answer.json()["holds"]]

    assert set(ids(HOLDS)) == {on_jo["id"], on_group["id"]}  # standing by default
    assert set(ids(f"{HOLDS}?status=all")) == {on_ian["id"], on_jo["id"], on_group["id"]}
    assert ids(f"{HOLDS}?status=lifted") == [on_ian["id"]]
    assert set(ids(f"{HOLDS}?subject=jo")) == {on_jo["id"], on_group["id"]}
    assert ids(f"{HOLDS}?group=finance") == [on_group["id"]]
    assert set(ids(f"{HOLDS}?status=all", by="finn")) == {on_jo["id"], on_group["id"]}
    assert api.get(f"{HOLDS}/{on_ian['id']}", headers=auth(world, "finn")).status_code == 404
    bad = api.get(f"{HOLDS}?status=gone", headers=auth(world, "barbara"))
    assert bad.status_code == 422 and bad.json()["error"]["id"] == "invalid_input"


@pytest.mark.parametrize(
    "ends_at",
    [
        "9999-12-31T23:59:59-14:00",  # past what a datetime holds in UTC: it was a 500
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_an_end_time_outside_the_years_a_request_may_name_is_invalid_input(
    api: TestClient, world: World, ends_at: str
) -> None:
    """A time in a request body lies between 1970 and 9000 (UTC); beyond, the
    answer names the field and no hold is set."""
    world.subject("alice", groups=("staff",))
    body = {"kind": "legal_hold", "reason": "r", "ticket": "LEG-1", "subject": "alice"}
    answer = api.post(HOLDS, headers=auth(world, "ada"), json={**body, "ends_at": ends_at})
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["error"]["details"]["problems"]
    assert (
        problem["field"] == "ends_at" and "between 1970-01-01 and 9000-01-01" in problem["problem"]
    )
    assert api.get(HOLDS, headers=auth(world, "ada")).json() == {"holds": []}
