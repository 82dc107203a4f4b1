"""The service-account API on both backends: the owner, signed in as themselves,
asks and proves; the approver and executor act through the operator API; the
link answers the value once (R-17, R-40); a non-owner is refused; an HR
departure transfers and opens rotations (R-39); unowned accounts are listed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from service_world import APPROVER, EXECUTOR, link_token, owner, service_account
from subject_helpers import sign_in, totp_code, with_password

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Role


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    world.operator(APPROVER, Role.APPROVER, groups=("service-owners",))
    world.operator(EXECUTOR, Role.EXECUTOR)
    world.operator("hr", Role.ADMIN)
    world.operator("audrey", Role.AUDITOR)
    for person in ("ana", "bo"):
        owner(world, person)
        with_password(world, person)
    service_account(world, "svc-api", ("ana",))
    with TestClient(create_app(world.svc)) as client:
        yield client


def _as(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _session(world: World, subject_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_in(world, subject_id).token}"}


def test_the_owner_rotates_through_the_api_and_the_link_answers_once(
    api: TestClient, world: World
) -> None:
    me = _session(world, "ana")
    opened = api.post(
        "/api/v1/me/service-accounts/svc-api/rotations", json={"reason": "yearly"}, headers=me
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    proved = api.post(
        f"/api/v1/me/rotations/{case_id}/proof",
        json={"method": "totp", "response": totp_code(world, "ana")},
        headers=me,
    )
    assert proved.json()["state"] == "awaiting_approval", proved.text
    approved = api.post(
        f"/api/v1/cases/{case_id}/approve", json={"reason": "ok"}, headers=_as(world, APPROVER)
    )
    assert approved.status_code == 200, approved.text
    executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=_as(world, EXECUTOR))
    assert executed.status_code == 200, executed.text
    assert "secret" not in executed.text
    world.drain()
    token = link_token(world, "ana", case_id)
    first = api.post("/api/v1/service-secret", json={"token": token})
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert world.directory.authenticate("svc-api", first.json()["secret"])
    again = api.post("/api/v1/service-secret", json={"token": token})
    assert again.json()["error"]["id"] == "secret_link_invalid"


def test_a_non_owner_asking_for_a_rotation_is_refused(api: TestClient, world: World) -> None:
    refused = api.post(
        "/api/v1/me/service-accounts/svc-api/rotations",
        json={"reason": "mine now"},
        headers=_session(world, "bo"),
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["id"] == "not_service_owner"


def test_an_hr_departure_transfers_and_unowned_accounts_are_listed(
    api: TestClient, world: World
) -> None:
    service_account(world, "svc-orphan", ())
    moved = api.post(
        "/api/v1/owners/ana/depart", json={"successor": "bo"}, headers=_as(world, "hr")
    )
    assert moved.status_code == 200, moved.text
    assert [(t["service_id"], t["case_state"]) for t in moved.json()] == [("svc-api", "proofing")]
    listed = api.get("/api/v1/service-accounts/unowned", headers=_as(world, "audrey"))
    assert [u["service_id"] for u in listed.json()] == ["svc-orphan"]
    refused = api.post(
        "/api/v1/owners/bo/depart", json={"successor": "ana"}, headers=_as(world, APPROVER)
    )
    assert refused.status_code == 403
