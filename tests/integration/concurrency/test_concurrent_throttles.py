"""Throttles decided by the database across separate processes, on SQLite and
PostgreSQL (R-18, R-20, R-21): 20 processes guessing one subject's TOTP from one
source; a legitimate attempt from elsewhere still succeeds; a flood of code
requests is suppressed and audited without locking the account."""

from __future__ import annotations

from functools import partial

import pyotp
from process_race import race

from conftest import World
from custos.proofing import rate_rules
from custos.service.ports import Services
from custos.service.recovery import self_service
from custos.service.signals import throttles
from custos.store.tables import ledger

RACERS = 20
ATTACKER, HOME = "198.51.100.66", "192.0.2.10"


def _guess(svc: Services, *, flow: str, code: str) -> None:
    self_service.submit_proof(
        svc, handle=flow, method="totp", response=code, source_address=ATTACKER
    )


def _flood(svc: Services, *, flow: str) -> None:
    self_service.request_email_code(svc, handle=flow, source_address=ATTACKER)


def _wrong_code(world: World, subject: str) -> str:
    totp = pyotp.TOTP(world.totp_secrets[subject])
    now = world.clock.now().timestamp()
    valid = {totp.at(now + 30 * step) for step in (-2, -1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)


def test_twenty_processes_guessing_are_counted_exactly_and_delayed(world: World) -> None:
    """R-18: every attempt counts before it is checked, whichever process makes
    it: after the 3 free failures the delay refuses the rest; the counter equals
    the attempts made. Someone else's failures do not stop the real subject, who
    succeeds from another source (R-20: no lockout)."""
    world.subject("tess", with_totp=True)
    flows = [
        self_service.start(world.svc, identifier="tess", source_address=ATTACKER)
        for _ in range(RACERS)
    ]
    code = _wrong_code(world, "tess")
    results = race(world, [partial(_guess, flow=flow, code=code) for flow in flows])
    assert not [r for r in results if r.startswith("crash")], results
    failed, throttled = results.count("proofing_failed"), results.count("throttled")
    assert failed + throttled == RACERS, results
    assert failed == rate_rules.PER_AUTHENTICATOR_SOURCE.free + 1
    who = throttles.subject_who("tess")
    with world.svc.uow() as uow:
        assert throttles.attempts(uow, who=who, method="totp", source=ATTACKER) == failed
        assert throttles.attempts(uow, who=who, method="totp") == failed
    with world.svc.engine.connect() as conn:
        refusals = [
            r for r in conn.execute(ledger.select()) if r.type == "proofing:subject:throttled"
        ]
    assert len(refusals) == throttled

    home = self_service.start(world.svc, identifier="tess", source_address=HOME)
    proof = self_service.submit_proof(
        world.svc, handle=home, method="totp", response=world.totp_now("tess"), source_address=HOME
    )
    assert proof.status in ("link_sent", "more_proof_required", "awaiting_approval")
    with world.svc.uow() as uow:
        assert throttles.attempts(uow, who=who, method="totp") == 0  # success resets
        # The attacker's own delays stay where they were.
        assert throttles.attempts(uow, who=who, method="totp", source=ATTACKER) == failed


def test_a_flood_of_code_requests_is_suppressed_and_audited(world: World) -> None:
    """R-20, R-21: 20 processes asking for codes from one source send at most the
    per-(subject, source) allowance; each suppression is a ledger event; a request
    from the subject's own source still gets a code."""
    world.subject("uma")
    flows = [
        self_service.start(world.svc, identifier="uma", source_address=ATTACKER)
        for _ in range(RACERS)
    ]
    results = race(world, [partial(_flood, flow=flow) for flow in flows])
    assert results == ["ok"] * RACERS
    sent = len(world.mail("uma@example.org", "email_code"))
    assert sent == rate_rules.SENDS_PER_SUBJECT_SOURCE.free
    with world.svc.engine.connect() as conn:
        types = [r.type for r in conn.execute(ledger.select())]
    assert types.count("proofing:code:suppressed") == RACERS - sent
    home = self_service.start(world.svc, identifier="uma", source_address=HOME)
    self_service.request_email_code(world.svc, handle=home, source_address=HOME)
    assert len(world.mail("uma@example.org", "email_code")) == sent + 1
