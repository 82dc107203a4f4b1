"""An operator never acts on a case about themselves (R-32, R-33): every
operator action on a case answers 403 ``sod_violation`` to an operator whose
person is the subject, even one holding the admin role and a ``*`` scope, and
the refusal changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sponsor_attestation import sponsor_attests_over_api, with_sponsor
from sqlalchemy import func, select

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Employment, Role
from custos.store.tables import ledger

#: Operator actions on a case in proofing: (path under the case, JSON body).
PROOFING_ACTIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("proofs", {"method": "totp", "code": "123456"}),
    ("email-code", None),
    ("sms-code", None),
    ("webauthn-link", None),
    ("attestation", None),
    ("challenge", {}),
    ("cancel", {"reason": "it is my own case"}),
    ("retry", {}),
    ("flag-fraud", {"reason": "it is my own case"}),
]


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def _auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _ledger_size(world: World) -> int:
    """Entries other than oversight's: a refusal is recorded (R-36), nothing else."""
    with world.svc.engine.connect() as conn:
        query = select(func.count()).where(ledger.c.type.not_like("oversight:%"))
        return int(conn.execute(query.select_from(ledger)).scalar_one())


def _state(world: World, api: TestClient, case_id: str) -> str:
    answer = api.get(f"/api/v1/cases/{case_id}", headers=_auth(world, "hana"))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["state"])


def _refused(world: World, api: TestClient, case_id: str, action: str, body: Any) -> None:
    before = _ledger_size(world)
    answer = api.post(f"/api/v1/cases/{case_id}/{action}", headers=_auth(world, "kim"), json=body)
    assert answer.status_code == 403, (action, answer.text)
    assert answer.json()["error"]["id"] == "sod_violation", (action, answer.text)
    assert _ledger_size(world) == before, action


def test_every_operator_action_refuses_the_subject_of_the_case(
    world: World, api: TestClient
) -> None:
    """R-32, R-33: the subject, as an admin with every scope, can neither proof,
    send codes or links, ask for an attestation or challenge, cancel, retry,
    flag, approve, deny nor execute their own case; other operators still can."""
    world.subject("kim", employment=Employment.CONTRACTOR, groups=("contractors",), with_totp=True)
    with_sponsor(world, "kim")
    world.operator("kim", Role.ADMIN, person="kim")
    world.operator("hana", Role.REQUESTER)
    world.operator("linus", Role.APPROVER)
    opened = api.post(
        "/api/v1/cases", headers=_auth(world, "hana"), json={"subject": "kim", "reason": "call"}
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    for action, body in PROOFING_ACTIONS:
        _refused(world, api, case_id, action, body)
    assert _state(world, api, case_id) == "proofing"

    proof = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=_auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now("kim")},
    )
    assert proof.json()["state"] == "proofing", proof.text
    sponsor_attests_over_api(world, api, case_id, _auth(world, "hana"))
    assert _state(world, api, case_id) == "awaiting_approval"
    _refused(world, api, case_id, "approve", {"reason": "it is me"})
    _refused(world, api, case_id, "deny", {"reason": "it is me"})
    _refused(world, api, case_id, "cancel", {"reason": "it is me"})
    approved = api.post(
        f"/api/v1/cases/{case_id}/approve", headers=_auth(world, "linus"), json={"reason": "ok"}
    )
    assert approved.json()["state"] == "approved", approved.text
    _refused(world, api, case_id, "execute", None)
    _refused(world, api, case_id, "cancel", {"reason": "it is me"})
    assert _state(world, api, case_id) == "approved"

    cancelled = api.post(
        f"/api/v1/cases/{case_id}/cancel", headers=_auth(world, "hana"), json={"reason": "dup"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
