"""R-5 in the case flow: a locked authenticator is reset only by a recovery
whose fresh proof reaches the level the tier names, and only when its one-time
token is redeemed; locks above that level stay, and the case's ledger says why.
The locks are made by the real throttles (100 consecutive failures, R-18)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lock_helpers import lock, locked
from recoveries import PASSWORD

from conftest import BACKENDS, World, make_world, pg_database
from custos.domain.authenticator_locks import SIGN_IN_METHOD
from custos.domain.events import EventType
from custos.service.recovery import credentials, self_service
from custos.service.signals import throttles

POLICY = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - name: aal2
    match: {groups: [aal2]}
    aal: 2
    channels: [self_service]
    proofing: {factors: 2, methods: [email_code, recovery_code]}
    action: reset_token
    token_ttl: 15m
  - name: plain
    match: {kind: human}
    channels: [self_service]
    proofing: {factors: 1, methods: [email_code]}
    action: reset_token
    token_ttl: 15m
"""


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    if request.param == "sqlite":
        made = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, policy_file=policy)
        yield made
        made.svc.engine.dispose()
        return
    with pg_database() as url:
        made = make_world(url, tmp_path, policy_file=policy)
        yield made
        made.svc.engine.dispose()


def _prove(world: World, subject_id: str, *, recovery_code: bool) -> str:
    flow = self_service.start(world.svc, identifier=subject_id, source_address="10.4.4.4")
    self_service.request_email_code(world.svc, handle=flow)
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code(subject_id)
    )
    if recovery_code:
        code = world.recovery_codes[subject_id][0]
        self_service.submit_proof(world.svc, handle=flow, method="recovery_code", response=code)
    return world.last_link_token(subject_id)


def _lock_events(world: World, case_id: str) -> dict[str, dict[str, object]]:
    types = {EventType.AUTHENTICATOR_LOCK_RESET, EventType.AUTHENTICATOR_LOCK_KEPT}
    with world.svc.uow() as uow:
        events = [e for e in uow.ledger.for_case(case_id) if e["type"] in types]
    return {str(e["data"]["method"]): e for e in events}


def test_an_aal2_recovery_resets_locks_up_to_aal2_when_its_token_is_redeemed(
    world: World,
) -> None:
    """R-5: the TOTP app and the password were locked (AAL2, AAL1), so was the
    security key (AAL3). A recovery at the AAL2 tier (email code and saved code)
    resets the first two when its token is redeemed, not before (R-7); the key
    stays locked, and the ledger records each decision with its reason."""
    world.subject("ada", groups=("aal2",), codes=3)
    for method in ("totp", "webauthn", SIGN_IN_METHOD):
        lock(world, "ada", method)
    assert locked(world, "ada") == {"totp", "webauthn", "password"}

    token = _prove(world, "ada", recovery_code=True)
    assert locked(world, "ada") == {"totp", "webauthn", "password"}  # nothing changes yet
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id

    assert locked(world, "ada") == {"webauthn"}
    with world.svc.uow() as uow:
        who = throttles.subject_who("ada")
        now = world.clock.now()
        assert (
            throttles.reserve_proof(uow, who=who, method="totp", source="10.4.4.4", now=now) is None
        )
        still = throttles.reserve_proof(uow, who=who, method="webauthn", source="10.4.4.4", now=now)
        assert still is not None and still.locked
    events = _lock_events(world, case_id)
    assert {m for m, e in events.items() if e["type"] == EventType.AUTHENTICATOR_LOCK_RESET} == {
        "totp",
        "password",
    }
    kept = events["webauthn"]
    assert kept["type"] == EventType.AUTHENTICATOR_LOCK_KEPT and kept["outcome"] == "denied"
    assert "R-5" in str(kept["reason"]) and "AAL3" in str(kept["reason"])
    assert kept["data"] == {"method": "webauthn", "authenticator_aal": 3, "tier_aal": 2}


def test_a_tier_that_names_no_aal_resets_only_aal1_locks(world: World) -> None:
    """R-5: a one-code recovery at a tier that states no AAL proves AAL1: the
    password and the SMS code methods are reset, the TOTP app stays locked."""
    world.subject("bob", codes=3)
    for method in ("totp", "sms_code", SIGN_IN_METHOD):
        lock(world, "bob", method)

    token = _prove(world, "bob", recovery_code=False)
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id

    assert locked(world, "bob") == {"totp"}
    events = _lock_events(world, case_id)
    assert events["totp"]["type"] == EventType.AUTHENTICATOR_LOCK_KEPT
    assert "no AAL" in str(events["totp"]["reason"])
    assert events["sms_code"]["type"] == EventType.AUTHENTICATOR_LOCK_RESET


def test_a_recovery_with_nothing_locked_records_no_lock_event(world: World) -> None:
    world.subject("cy", groups=("aal2",), codes=3)
    token = _prove(world, "cy", recovery_code=True)
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id
    assert _lock_events(world, case_id) == {}
