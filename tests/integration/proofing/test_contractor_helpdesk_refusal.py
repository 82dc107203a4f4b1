"""Contractors on the help desk (issue 13): a contractor whose contract ended
(``contract_end``, mapped from the directories) is refused when the help desk
opens the case, with ``recovery_refused``, the reason and a denied case on
record; a contract still running opens as usual. Under the default policy, on
SQLite and PostgreSQL. (Self-service, the sponsor's attestation and its caps:
test_contractor_recovery.py.)"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from assisted_helpers import auth, event_types, with_manager
from fastapi.testclient import TestClient

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Role


def _contract_ends_in(world: World, days: int) -> None:
    with_manager(world, "carl", "mia", contractor=True)
    with world.svc.uow() as uow:
        carl = uow.subjects.get("carl")
        assert carl is not None
        end = world.clock.now() + timedelta(days=days)
        uow.subjects.update(dataclasses.replace(carl, contract_end=end))
        uow.commit()
    world.operator("hana", Role.REQUESTER, person="hana")


def _open(world: World, api: TestClient) -> dict[str, object]:
    response = api.post(
        "/api/v1/cases",
        headers=auth(world, "hana"),
        json={"subject": "carl", "reason": "caller lost phone and password"},
    )
    return {"status": response.status_code, **response.json()}


def test_helpdesk_case_for_a_contractor_after_the_contract_end_is_refused(world: World) -> None:
    """The contract ended yesterday: ``recovery_refused`` naming the end date, the
    case recorded as denied (the attempt is audited), no code sent."""
    _contract_ends_in(world, -1)
    with TestClient(create_app(world.svc)) as api:
        answer = _open(world, api)
        assert answer["status"] == 409
        error = answer["error"]
        assert isinstance(error, dict) and error["id"] == "recovery_refused"
        assert "contract of 'carl' ended on" in error["message"]
        case_id = error["details"]["case_id"]
        detail = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "hana")).json()
    assert detail["state"] == "denied"
    assert "case:case:opened" in event_types(world, case_id)
    assert world.mail("carl@example.org", "email_code") == []


def test_helpdesk_case_for_a_contractor_before_the_contract_end_opens(world: World) -> None:
    """The contract ends tomorrow: the case opens for proofing."""
    _contract_ends_in(world, 1)
    with TestClient(create_app(world.svc)) as api:
        answer = _open(world, api)
    assert answer["status"] == 201 and answer["state"] == "proofing"
