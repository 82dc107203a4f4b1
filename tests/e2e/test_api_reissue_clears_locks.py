"""R-5 with a reissue, through the JSON API on SQLite and PostgreSQL: a
privileged reissue removes every authenticator bound in Custos and demands a
new one, so the R-18 locks of the authenticators it removed go with them (a
stale lock would refuse the key enrolled next), each a ledger event on the
case; a lock of nothing the reissue removed follows the tier's AAL as before.
Before the fix the TOTP and security-key locks outlived the reissue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lock_helpers import lock, locked
from recoveries import PASSWORD
from reissue_world import reissue_world
from webauthn_authenticator import enrol_webauthn

from conftest import BACKENDS, World, pg_schema
from custos.api.app import create_app
from custos.domain.authenticator_locks import SIGN_IN_METHOD
from custos.domain.events import EventType
from custos.domain.model import Role
from custos.service.signals import throttles


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        made = reissue_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path)
        yield made
        made.svc.engine.dispose()
        return
    with pg_schema() as url:
        made = reissue_world(url, tmp_path)
        try:
            yield made
        finally:
            made.svc.engine.dispose()


def _auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _reissue(world: World, api: TestClient, subject_id: str) -> str:
    """The help desk's reissue, every step an API call: open, a saved code and
    an email code, two approvers, the executor, the subject's new password."""
    for name, role in (
        ("hana", Role.REQUESTER),
        ("linus", Role.APPROVER),
        ("grace", Role.APPROVER),
        ("edsger", Role.EXECUTOR),
    ):
        world.operator(name, role)
    opened = api.post(
        "/api/v1/cases",
        headers=_auth(world, "hana"),
        json={"subject": subject_id, "reason": "admin lost every factor"},
    )
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["id"])
    proofs = f"/api/v1/cases/{case_id}/proofs"
    saved = {"method": "recovery_code", "code": world.recovery_codes[subject_id][0]}
    assert api.post(proofs, headers=_auth(world, "hana"), json=saved).status_code == 200
    sent = api.post(f"/api/v1/cases/{case_id}/email-code", headers=_auth(world, "hana"))
    assert sent.status_code == 202, sent.text
    code = {"method": "email_code", "code": world.last_code(subject_id)}
    assert api.post(proofs, headers=_auth(world, "hana"), json=code).status_code == 200
    for approver in ("linus", "grace"):
        approved = api.post(
            f"/api/v1/cases/{case_id}/approve",
            headers=_auth(world, approver),
            json={"reason": "caller verified"},
        )
        assert approved.status_code == 200, approved.text
    executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=_auth(world, "edsger"))
    assert executed.status_code == 200, executed.text
    redeemed = api.post(
        "/api/v1/self-service/reset",
        json={"token": world.last_link_token(subject_id), "new_password": PASSWORD},
    )
    assert redeemed.status_code == 200, redeemed.text
    return case_id


def _lock_events(world: World, case_id: str) -> dict[str, dict[str, Any]]:
    types = {EventType.AUTHENTICATOR_LOCK_RESET, EventType.AUTHENTICATOR_LOCK_KEPT}
    with world.svc.uow() as uow:
        events = [e for e in uow.ledger.for_case(case_id) if e["type"] in types]
    return {str(e["data"]["method"]): e for e in events}


def test_a_reissue_clears_the_locks_of_the_authenticators_it_removed(
    world: World,
) -> None:
    """R-5: an admin with a TOTP app, saved codes and a security key has the
    app and the key locked, and the password too; they prove with a saved code
    and an email code. The reissue tier names no AAL (its proof counts as
    AAL1), yet the reissue clears the TOTP (AAL2) and key (AAL3) locks, because
    it removed those authenticators; the password lock is reset by the AAL1
    proof as before. Each is a ledger event on the case with its reason;
    afterwards a newly enrolled security key is not refused by an old lock."""
    world.subject("root", privileged=True, groups=("admins",), with_totp=True, codes=3)
    enrol_webauthn(world, "root")
    for method in ("totp", "webauthn", SIGN_IN_METHOD):
        lock(world, "root", method)
    assert locked(world, "root") == {"totp", "webauthn", "password"}

    with TestClient(create_app(world.svc)) as api:
        case_id = _reissue(world, api, "root")

    assert locked(world, "root") == set()
    events = _lock_events(world, case_id)
    assert set(events) == {"totp", "webauthn", "password"}
    assert all(e["type"] == EventType.AUTHENTICATOR_LOCK_RESET for e in events.values())
    for method in ("totp", "webauthn"):
        assert events[method]["data"]["removed_by_reissue"] is True
        assert "the reissue removed the authenticator" in str(events[method]["reason"])
        assert events[method]["actor"] == "system:custos"
    assert "removed_by_reissue" not in events["password"]["data"]
    assert events["webauthn"]["data"]["authenticator_aal"] == 3

    enrol_webauthn(world, "root", label="new security key")
    with world.svc.uow() as uow:
        refused = throttles.reserve_proof(
            uow,
            who=throttles.subject_who("root"),
            method="webauthn",
            source="10.9.9.9",
            now=world.clock.now(),
        )
    assert refused is None
