"""R-5 through the subject API, on SQLite and PostgreSQL: a subject sees its
locked methods (R-18) and what resets each; a fresh session resets a lock only
at the locked authenticator's AAL or above, otherwise it is refused naming the
level, and the subject recovers the account instead."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from lock_helpers import lock, locked
from subject_helpers import sign_in, with_password
from webauthn_authenticator import enrol_webauthn

from conftest import World
from custos.api.app import create_app
from custos.domain.events import EventType
from custos.store.tables import ledger


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_session_resets_a_lock_only_at_the_authenticators_level(
    world: World, api: TestClient
) -> None:
    """R-5: signed in with TOTP (AAL2) the subject resets its locked TOTP, not its
    locked security key (AAL3); signed in with the key it resets that too. Each
    reset is a ledger event naming both levels."""
    world.subject("tess", with_totp=True)
    with_password(world, "tess")
    key = enrol_webauthn(world, "tess")
    lock(world, "tess", "totp")
    lock(world, "tess", "webauthn")

    aal2 = sign_in(world, "tess").token
    listed = api.get("/api/v1/me/locks", headers=bearer(aal2))
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {"method": "totp", "aal": 2, "session_may_reset": True},
        {"method": "webauthn", "aal": 3, "session_may_reset": False},
    ]
    refused = api.post("/api/v1/me/locks/webauthn/reset", headers=bearer(aal2))
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["id"] == "reauthentication_required"
    assert error["details"] == {"required_aal": 3, "session_aal": 2}
    assert "AAL3" in error["message"] and "recover the account" in error["message"]
    reset = api.post("/api/v1/me/locks/totp/reset", headers=bearer(aal2))
    assert reset.status_code == 200, reset.text
    assert locked(world, "tess") == {"webauthn"}

    aal3 = sign_in(world, "tess", key=key).token
    assert api.post("/api/v1/me/locks/webauthn/reset", headers=bearer(aal3)).status_code == 200
    assert locked(world, "tess") == set()
    with world.svc.uow() as uow:
        events = [
            dict(row._mapping)
            for row in uow.conn.execute(
                ledger.select().where(
                    ledger.c.subject_id == "tess",
                    ledger.c.type == str(EventType.AUTHENTICATOR_LOCK_RESET),
                )
            )
        ]
    assert len(events) == 2 and all(e["case_id"] is None for e in events)
    assert '"session_aal":3' in events[1]["canonical"]


def test_a_stale_session_or_an_unlocked_method_is_refused(world: World, api: TestClient) -> None:
    """R-5 with R-27: the proof must be fresh (a full sign-in in the last five
    minutes); a method that is not locked has nothing to reset."""
    world.subject("uma", with_totp=True)
    with_password(world, "uma")
    lock(world, "uma", "totp")
    token = sign_in(world, "uma").token
    missing = api.post("/api/v1/me/locks/sms_code/reset", headers=bearer(token))
    assert missing.status_code == 404
    assert missing.json()["error"]["id"] == "not_found"
    bad = api.post("/api/v1/me/locks/Totp!/reset", headers=bearer(token))
    assert bad.status_code == 422
    world.clock.advance(timedelta(minutes=6))
    stale = api.post("/api/v1/me/locks/totp/reset", headers=bearer(token))
    assert stale.status_code == 403
    assert stale.json()["error"]["id"] == "reauthentication_required"
    assert locked(world, "uma") == {"totp"}
