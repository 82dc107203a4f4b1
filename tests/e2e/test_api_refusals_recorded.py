"""Every refusal recorded (R-36) and scope revealing nothing: an out-of-scope
operator's case action answers 404 exactly as an unknown case does (the old
answers were 403 naming the subject, or 409 with the case's state), every
refusal becomes a ledger event, and a refusal storm adds at most two ledger
entries per window however many requests arrive."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from conftest import World
from custos.api.app import create_app
from custos.domain.model import Role
from custos.service.oversight.refusals import close_windows, refusals_by_kind
from custos.store.tables import ledger

#: Every operator action on a case: (path under the case, JSON body).
ACTIONS: list[tuple[str, dict[str, Any] | None]] = [
    ("proofs", {"method": "totp", "code": "123456"}),
    ("email-code", None),
    ("sms-code", None),
    ("webauthn-link", None),
    ("attestation", None),
    ("challenge", {}),
    ("approve", {"reason": "ok"}),
    ("deny", {"reason": "no"}),
    ("execute", None),
    ("cancel", {"reason": "dup"}),
    ("retry", {}),
    ("flag-fraud", {"reason": "odd"}),
]


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def _auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _entries(world: World, prefix: str) -> list[str]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(select(ledger.c.type).where(ledger.c.type.like(f"{prefix}%")))
        return [str(r[0]) for r in rows]


def _ledger_size(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def _open_case(world: World, api: TestClient) -> str:
    world.subject("ivy", groups=("finance",), with_totp=True)
    world.operator("hana", Role.REQUESTER)
    opened = api.post(
        "/api/v1/cases", headers=_auth(world, "hana"), json={"subject": "ivy", "reason": "call"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


def test_out_of_scope_case_action_answers_as_an_unknown_case(world: World, api: TestClient) -> None:
    """R-36: each operator case action by an operator whose scope misses the
    subject answers 404 with the body an unknown case gets (no subject, no
    state), and is recorded as a scope refusal."""
    case_id = _open_case(world, api)
    world.operator("olaf", Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, scope=("engineering",))
    for action, body in ACTIONS:
        answer = api.post(
            f"/api/v1/cases/{case_id}/{action}", headers=_auth(world, "olaf"), json=body
        )
        unknown = api.post(
            f"/api/v1/cases/no-such-case/{action}", headers=_auth(world, "olaf"), json=body
        )
        assert answer.status_code == 404, (action, answer.text)
        assert answer.json()["error"]["id"] == "not_found", action
        assert "ivy" not in answer.text and "proofing" not in answer.text, action
        assert unknown.status_code == 404, (action, unknown.text)
        assert answer.json()["error"]["message"] == f"no case '{case_id}'", action
    shown = api.get(f"/api/v1/cases/{case_id}", headers=_auth(world, "olaf"))
    assert shown.status_code == 404
    assert refusals_by_kind(world.svc).get("scope") == len(ACTIONS)
    assert _entries(world, "oversight:operator:refused") == ["oversight:operator:refused"]


def test_refused_actions_become_ledger_events_by_kind(world: World, api: TestClient) -> None:
    """R-36: a role refusal, a state refusal and a failed token use each write
    an ``oversight:operator:refused`` entry naming the kind and action."""
    case_id = _open_case(world, api)
    world.operator("abe", Role.APPROVER)
    role = api.post(f"/api/v1/cases/{case_id}/retry", headers=_auth(world, "abe"), json={})
    assert role.status_code == 403, role.text
    state = api.post(
        f"/api/v1/cases/{case_id}/approve", headers=_auth(world, "abe"), json={"reason": "x"}
    )
    assert state.status_code == 409, state.text
    bad = api.get("/api/v1/me", headers={"Authorization": "Bearer cop_not-a-real-token"})
    assert bad.status_code == 401
    kinds = refusals_by_kind(world.svc)
    assert kinds.get("role") == 1 and kinds.get("state") == 1 and kinds.get("api_token") == 1
    assert len(_entries(world, "oversight:operator:refused")) == 3


def test_refusal_storm_adds_at_most_two_entries_per_window(world: World, api: TestClient) -> None:
    """R-36: 60 refused requests in one window add one detailed entry and, once
    the window closed, one summary with the count of 60; not 60 rows."""
    case_id = _open_case(world, api)
    world.operator("olaf", Role.APPROVER, scope=("engineering",))
    before = _ledger_size(world)
    for _ in range(60):
        answer = api.post(
            f"/api/v1/cases/{case_id}/approve", headers=_auth(world, "olaf"), json={"reason": "x"}
        )
        assert answer.status_code == 404
    assert _ledger_size(world) == before + 1
    world.clock.advance(timedelta(minutes=10))
    assert close_windows(world.svc) == 1
    assert close_windows(world.svc) == 0
    assert _ledger_size(world) == before + 2
    with world.svc.engine.connect() as conn:
        summary = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == "oversight:refusals:summarised")
        ).scalar_one()
    assert '"count":60' in summary
