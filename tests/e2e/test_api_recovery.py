"""End-to-end recoveries through the HTTP API, on SQLite and PostgreSQL, with the
built-in directory and the worker doing real propagation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sponsor_attestation import sponsor_attests_over_api, with_sponsor

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Employment, Role
from custos.store.tables import ledger

NEW_PASSWORD = "quartz-lantern-meadow-7-orbit"


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def start(api: TestClient, identifier: str) -> str:
    response = api.post("/api/v1/self-service/recoveries", json={"identifier": identifier})
    assert response.status_code == 202
    return str(response.json()["flow"])


def case_of(world: World, api: TestClient, subject: str) -> dict[str, Any]:
    world.operator("auditor", Role.AUDITOR) if "auditor" not in world.tokens else None
    listing = api.get(f"/api/v1/cases?subject={subject}", headers=auth(world, "auditor"))
    case: dict[str, Any] = listing.json()["cases"][0]
    return case


def detail(world: World, api: TestClient, case_id: str) -> dict[str, Any]:
    if "auditor" not in world.tokens:
        world.operator("auditor", Role.AUDITOR)
    response = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "auditor"))
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()
    return case


def test_self_service_recovery_completes_with_email_code(world: World, api: TestClient) -> None:
    """A subject recovers alone: code to a confirmed contact, one-time link, own
    password, propagation, read-back and session revocation (R-13, R-15, R-17, R-22, R-24)."""
    world.subject("bob")
    world.directory.open_session("bob")
    flow = start(api, "bob")
    assert api.post(f"/api/v1/self-service/recoveries/{flow}/email-code").status_code == 202
    # The unconfirmed contact gets nothing.
    assert world.mail("bob@old.example.org", "email_code") == []
    proof = api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": world.last_code("bob")},
    )
    assert proof.status_code == 200, proof.text
    assert proof.json()["status"] == "link_sent"
    token = world.last_link_token("bob")
    link_body = world.mail("bob@example.org", "reset_link")[-1]["body"]
    assert "https://recovery.example.org/reset#token=" in link_body  # configured origin

    redeemed = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.headers["cache-control"] == "no-store"
    assert redeemed.headers["referrer-policy"] == "no-referrer"
    case_id = redeemed.json()["case"]
    world.drain()

    story = detail(world, api, case_id)
    assert story["state"] == "completed"
    assert story["tier"] == "standard"
    assert story["validated_by"] == "system:post_checks"
    assert [r["state"] for r in story["receipts"]] == ["succeeded"]
    assert {c["name"] for c in story["checks"] if c["passed"]} == {"read_back", "sessions_revoked"}
    assert world.directory.verify_password("bob", NEW_PASSWORD)
    assert world.directory.live_sessions("bob") == 0
    types = [e["type"] for e in story["timeline"]]
    assert types[0] == "case:case:opened"
    assert "credential:token:redeemed" in types and "credential:secret:wiped" in types


def test_no_secret_reaches_ledger_or_responses(world: World, api: TestClient) -> None:
    """Neither the code, the token nor the password appears in any ledger entry
    or case response (R-34, R-37)."""
    world.subject("erin")
    flow = start(api, "erin")
    api.post(f"/api/v1/self-service/recoveries/{flow}/email-code")
    code = world.last_code("erin")
    api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": code},
    )
    token = world.last_link_token("erin")
    case_id = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    ).json()["case"]
    world.drain()
    with world.svc.engine.connect() as conn:
        entries = [row.canonical for row in conn.execute(ledger.select())]
    everything = "\n".join(entries) + detail(world, api, case_id).__repr__()
    for secret in (code, token, NEW_PASSWORD, flow):
        assert secret not in everything


def test_start_answers_the_same_for_unknown_and_known_accounts(
    world: World, api: TestClient
) -> None:
    """Recovery start gives the same status and body for existing and unknown
    accounts; only the opaque flow handle differs (R-19)."""
    world.subject("carol")
    known = api.post("/api/v1/self-service/recoveries", json={"identifier": "carol"})
    unknown = api.post("/api/v1/self-service/recoveries", json={"identifier": "nobody-here"})
    assert known.status_code == unknown.status_code == 202

    def strip(r: httpx2.Response) -> dict[str, Any]:
        return {k: v for k, v in r.json().items() if k != "flow"}

    assert strip(known) == strip(unknown)
    assert set(known.headers) == set(unknown.headers)
    # The next steps fail the same way for an unknown account and a wrong code.
    wrong = api.post(
        f"/api/v1/self-service/recoveries/{known.json()['flow']}/proofs",
        json={"method": "email_code", "code": "00000000"},
    )
    ghost = api.post(
        f"/api/v1/self-service/recoveries/{unknown.json()['flow']}/proofs",
        json={"method": "email_code", "code": "00000000"},
    )
    assert wrong.status_code == ghost.status_code == 400
    assert wrong.json() == ghost.json()


def test_helpdesk_recovery_needs_a_second_operator_to_approve(
    world: World, api: TestClient
) -> None:
    """A contractor's help-desk recovery (TOTP and the sponsor's attestation)
    waits for an approver who is not the requester; the executor never sees
    the secret (R-32, R-33, R-34)."""
    world.subject("kim", employment=Employment.CONTRACTOR, groups=("contractors",), with_totp=True)
    with_sponsor(world, "kim")
    world.operator("hana", Role.REQUESTER)
    world.operator("linus", Role.APPROVER)
    world.operator("edsger", Role.EXECUTOR)
    opened = api.post(
        "/api/v1/cases",
        headers=auth(world, "hana"),
        json={"subject": "kim", "reason": "caller lost phone and password"},
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    assert opened.json()["tier"] == "contractor"
    proof = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now("kim")},
    )
    assert proof.json()["state"] == "proofing"
    sponsor_attests_over_api(world, api, case_id, auth(world, "hana"))
    assert detail(world, api, case_id)["state"] == "awaiting_approval"
    early = api.post(f"/api/v1/cases/{case_id}/execute", headers=auth(world, "edsger"))
    assert early.status_code == 409 and early.json()["error"]["id"] == "proofing_incomplete"
    approved = api.post(
        f"/api/v1/cases/{case_id}/approve",
        headers=auth(world, "linus"),
        json={"reason": "caller verified by TOTP"},
    )
    assert approved.json()["state"] == "approved"
    executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=auth(world, "edsger"))
    assert executed.json()["state"] == "credential_issued"
    assert "token" not in executed.text.lower().replace("one-time link", "")
    api.post(
        "/api/v1/self-service/reset",
        json={"token": world.last_link_token("kim"), "new_password": NEW_PASSWORD},
    )
    world.drain()
    story = detail(world, api, case_id)
    assert story["state"] == "completed"
    assert story["requested_by"] == f"operator:{world.operators['hana'].id}"
    assert [a["operator"] for a in story["approvals"]] == [world.operators["linus"].id]
    assert story["executed_by"] == f"operator:{world.operators['edsger'].id}"


def test_privileged_subject_is_refused_self_service(world: World, api: TestClient) -> None:
    """A privileged account cannot recover alone; the case is denied on the
    channel, and the outside sees only the generic answers (R-19, R-32)."""
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True)
    flow = start(api, "root")
    proof = api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "totp", "code": world.totp_now("root")},
    )
    assert proof.status_code == 400
    assert proof.json()["error"]["id"] == "proofing_failed"
    story = detail(world, api, case_of(world, api, "root")["id"])
    assert story["state"] == "denied"
    assert story["tier"] == "privileged"
    assert "self_service" in story["outcome_reason"]
    assert world.mail("root@example.org", "reset_link") == []


def test_approver_cannot_approve_their_own_request(world: World, api: TestClient) -> None:
    """One person holding requester and approver roles cannot approve the case
    they opened, nor count twice through two roles (R-32, R-33)."""
    world.subject("dave", employment=Employment.CONTRACTOR, groups=("contractors",), with_totp=True)
    with_sponsor(world, "dave")
    world.operator("both", Role.REQUESTER, Role.APPROVER)
    opened = api.post(
        "/api/v1/cases",
        headers=auth(world, "both"),
        json={"subject": "dave", "reason": "locked out"},
    )
    case_id = opened.json()["id"]
    api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "both"),
        json={"method": "totp", "code": world.totp_now("dave")},
    )
    sponsor_attests_over_api(world, api, case_id, auth(world, "both"))
    refused = api.post(
        f"/api/v1/cases/{case_id}/approve",
        headers=auth(world, "both"),
        json={"reason": "looks fine"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "sod_violation"
    assert detail(world, api, case_id)["state"] == "awaiting_approval"


def test_expired_token_is_refused_and_the_case_expires(world: World, api: TestClient) -> None:
    """A reset token past its tier lifetime does nothing; the case expires (R-17)."""
    world.subject("frank")
    flow = start(api, "frank")
    api.post(f"/api/v1/self-service/recoveries/{flow}/email-code")
    api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": world.last_code("frank")},
    )
    token = world.last_link_token("frank")
    world.clock.advance(timedelta(minutes=16))  # the standard tier's token lives 15 minutes
    response = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["error"]["id"] == "token_expired"
    assert detail(world, api, case_of(world, api, "frank")["id"])["state"] == "expired"
    assert not world.directory.verify_password("frank", NEW_PASSWORD)


def test_replayed_token_is_refused(world: World, api: TestClient) -> None:
    """A used token cannot be used again, even with another password (R-17)."""
    world.subject("grace")
    flow = start(api, "grace")
    api.post(f"/api/v1/self-service/recoveries/{flow}/email-code")
    api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": world.last_code("grace")},
    )
    token = world.last_link_token("grace")
    first = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert first.status_code == 200
    replay = api.post(
        "/api/v1/self-service/reset",
        json={"token": token, "new_password": "another-long-passphrase-42x"},
    )
    assert replay.status_code == 400
    assert replay.json()["error"]["id"] == "token_invalid"
    world.drain()
    assert world.directory.verify_password("grace", NEW_PASSWORD)
    timeline = detail(world, api, first.json()["case"])["timeline"]
    rejected = [e for e in timeline if e["type"] == "credential:token:rejected"]
    assert rejected and rejected[0]["reason"] == "replayed"


def test_weak_password_is_rejected_and_the_token_stays_usable(
    world: World, api: TestClient
) -> None:
    """A refused password changes nothing and does not burn the token (R-7)."""
    world.subject("heidi")
    flow = start(api, "heidi")
    api.post(f"/api/v1/self-service/recoveries/{flow}/email-code")
    api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": world.last_code("heidi")},
    )
    token = world.last_link_token("heidi")
    weak = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": "heidi12345678901"}
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["id"] == "password_rejected"
    assert "heidi12345678901" not in weak.text
    good = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert good.status_code == 200


def test_operator_endpoints_require_a_valid_token(world: World, api: TestClient) -> None:
    assert api.get("/api/v1/cases").status_code == 401
    bad = api.get("/api/v1/cases", headers={"Authorization": "Bearer cop_not-a-real-token"})
    assert bad.status_code == 401 and bad.json()["error"]["id"] == "unauthenticated"


def test_bad_input_gets_a_stable_error_and_changes_nothing(world: World, api: TestClient) -> None:
    world.operator("hana", Role.REQUESTER)
    missing = api.post("/api/v1/cases", headers=auth(world, "hana"), json={"subject": "x"})
    assert missing.status_code == 422 and missing.json()["error"]["id"] == "invalid_input"
    extra = api.post("/api/v1/self-service/recoveries", json={"identifier": "a", "admin": True})
    assert extra.status_code == 422
    unknown = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": "ghost", "reason": "test"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["id"] == "not_found"
    assert api.get("/api/v1/cases", headers=auth(world, "hana")).json()["cases"] == []
