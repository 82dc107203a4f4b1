"""Manager or sponsor attestation through an out-of-band link bound to the case:
success, refusal (security alerted), single use, expiry and separation of
duties, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from assisted_helpers import (
    auth,
    detail,
    event_types,
    ledger_text,
    link_token,
    open_case,
    with_manager,
)
from fastapi.testclient import TestClient
from proof_world import SECURITY_ADDRESS, proof_world

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.model import Role
from custos.service.recovery import self_service


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    yield from proof_world(request.param, tmp_path)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def request_attestation(world: World, api: TestClient, case_id: str, agent: str = "hana") -> str:
    response = api.post(f"/api/v1/cases/{case_id}/attestation", headers=auth(world, agent))
    assert response.status_code == 202, response.text
    assert "token" not in response.text and "#" not in response.text
    return link_token(world, "mia@example.org", "attestation_request")


def test_attestation_counts_as_a_passed_proof_when_manager_attests(
    world: World, api: TestClient
) -> None:
    """The manager sees who asks and why (no secret), attests, and the case has
    its proof; request and attestation are ledger events."""
    with_manager(world, "bob")
    case_id = open_case(world, api, "bob")
    token = request_attestation(world, api, case_id)
    mail = world.mail("mia@example.org", "attestation_request")[-1]
    assert "Bob" in mail["body"] and "caller lost phone and password" in mail["body"]
    assert world.mail("bob@example.org", "attestation_request") == []

    page = api.get("/attest")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = api.post("/api/v1/attestations/lookup", json={"token": token})
    assert shown.status_code == 200, shown.text
    assert shown.json()["case"] == case_id
    assert shown.json()["subject"] == "Bob"
    assert shown.json()["relation"] == "manager"
    assert shown.json()["reason"] == "caller lost phone and password"
    assert shown.json()["channel"] == "help desk"

    decided = api.post("/api/v1/attestations/attest", json={"token": token})
    assert decided.status_code == 200, decided.text
    story = detail(world, api, case_id)
    assert story["state"] == "approved"
    assert story["proofs"] == [
        {
            "method": "manager_attestation",
            "passed": True,
            "at": story["proofs"][0]["at"],
            "actor": "subject:mia",
        }
    ]
    types = event_types(world, case_id)
    assert "proofing:attestation:requested" in types and "proofing:attestation:attested" in types
    assert token not in ledger_text(world)


def test_attestation_link_works_once(world: World, api: TestClient) -> None:
    """A replayed link, even with the other decision, is refused."""
    with_manager(world, "bob")
    case_id = open_case(world, api, "bob")
    token = request_attestation(world, api, case_id)
    assert api.post("/api/v1/attestations/attest", json={"token": token}).status_code == 200
    again = api.post("/api/v1/attestations/refuse", json={"token": token})
    assert again.status_code == 400
    assert again.json()["error"]["id"] == "token_invalid"
    assert "proofing:attestation:refused" not in event_types(world, case_id)


def test_attestation_link_expires_after_a_day(world: World, api: TestClient) -> None:
    with_manager(world, "bob")
    case_id = open_case(world, api, "bob")
    token = request_attestation(world, api, case_id)
    world.clock.advance(timedelta(hours=24, minutes=1))
    for path in ("/api/v1/attestations/lookup", "/api/v1/attestations/attest"):
        late = api.post(path, json={"token": token})
        assert late.status_code == 400
        assert late.json()["error"]["id"] == "token_invalid"


def test_refusal_fails_the_proof_and_alerts_security(world: World, api: TestClient) -> None:
    with_manager(world, "bob")
    case_id = open_case(world, api, "bob")
    token = request_attestation(world, api, case_id)
    refused = api.post("/api/v1/attestations/refuse", json={"token": token})
    assert refused.status_code == 200, refused.text
    story = detail(world, api, case_id)
    assert [p["passed"] for p in story["proofs"]] == [False]
    assert story["state"] == "proofing"
    alert = world.mail(SECURITY_ADDRESS, "attestation_refused")
    assert len(alert) == 1 and case_id in alert[0]["body"] and "mia" in alert[0]["body"]
    assert "proofing:attestation:refused" in event_types(world, case_id)


def test_contractor_sponsor_is_asked(world: World, api: TestClient) -> None:
    with_manager(world, "carl", "mia", contractor=True)
    case_id = open_case(world, api, "carl")
    response = api.post(f"/api/v1/cases/{case_id}/attestation", headers=auth(world, "hana"))
    assert response.json()["relation"] == "sponsor"
    assert len(world.mail("mia@example.org", "attestation_request")) == 1


def test_requester_cannot_attest_the_case_they_opened(world: World, api: TestClient) -> None:
    """Separation of duties: the agent who opened the case is the subject's
    manager, so the manager's attestation cannot be asked for (R-33)."""
    with_manager(world, "bob")
    world.operator("mia-agent", Role.REQUESTER, person="mia")
    case_id = open_case(world, api, "bob", agent="mia-agent")
    refused = api.post(f"/api/v1/cases/{case_id}/attestation", headers=auth(world, "mia-agent"))
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "sod_violation"
    assert world.mail("mia@example.org", "attestation_request") == []


def test_subject_cannot_attest_their_own_recovery(world: World, api: TestClient) -> None:
    with_manager(world, "bob", "bob-boss")
    with world.svc.uow() as uow:  # a record that names the subject as their own manager
        subject = uow.subjects.get("bob")
        assert subject is not None
        subject.manager = "bob"
        uow.subjects.update(subject)
        uow.commit()
    case_id = open_case(world, api, "bob")
    refused = api.post(f"/api/v1/cases/{case_id}/attestation", headers=auth(world, "hana"))
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "sod_violation"


def test_self_service_never_asks_the_manager_on_a_start_alone(world: World) -> None:
    """A start proves nothing: the manager is not mailed when the flow resolves,
    and a first proof that already recovers leaves nothing to attest (the
    contractor tests cover a tier that needs the attestation)."""
    with_manager(world, "bob")
    flow = self_service.start(world.svc, identifier="bob", source_address=None)
    self_service.request_email_code(world.svc, handle=flow)  # resolves the flow
    assert world.mail("mia@example.org", "attestation_request") == []
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code("bob")
    )
    assert world.mail("mia@example.org", "attestation_request") == []
    assert len(world.mail("bob@example.org", "reset_link")) == 1


def test_attestation_cannot_be_typed_in_as_a_code(world: World, api: TestClient) -> None:
    """An agent cannot record an attestation by submitting a 'code' for it."""
    with_manager(world, "bob")
    case_id = open_case(world, api, "bob")
    typed = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "manager_attestation", "code": "yes"},
    )
    assert typed.status_code == 422
    assert detail(world, api, case_id)["proofs"] == []
