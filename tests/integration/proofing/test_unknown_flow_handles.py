"""Proofs against flow handles that name no live flow, on SQLite and PostgreSQL
(R-19, R-20): counted per source before the dummy verification they would
cost, so made-up handles cannot buy argon2 hashes unthrottled."""

from __future__ import annotations

import pytest

from conftest import World
from custos.credentials.tokens import issue_token
from custos.domain.errors import ProofingFailed, Throttled
from custos.proofing import rate_rules, recovery_code
from custos.service.recovery import self_service

ATTACKER, HOME = "198.51.100.66", "192.0.2.10"
CODE = "K7QF-3D9X-W2HM-8RZT-V4NP"


def _prove(world: World, source: str) -> str:
    """A recovery-code proof on a made-up handle: ``failed`` or ``throttled``."""
    handle = issue_token(self_service.FLOW_PREFIX).plain
    try:
        self_service.submit_proof(
            world.svc, handle=handle, method="recovery_code", response=CODE, source_address=source
        )
    except ProofingFailed:
        return "failed"
    except Throttled:
        return "throttled"
    pytest.fail("a made-up handle was accepted")


def test_made_up_handles_are_refused_per_source_before_any_hash(world: World) -> None:
    """R-19, R-20: each made-up handle within the source's allowance fails like a
    wrong code and spends one dummy argon2 verification; past the allowance the
    source is refused (429) and no verification runs at all. Another source is
    not affected."""
    allowance = rate_rules.PROOFS_PER_SOURCE.free
    before = recovery_code.hash_checks()
    assert [_prove(world, ATTACKER) for _ in range(allowance)] == ["failed"] * allowance
    assert recovery_code.hash_checks() - before == allowance
    refused_from = recovery_code.hash_checks()
    assert [_prove(world, ATTACKER) for _ in range(10)] == ["throttled"] * 10
    assert recovery_code.hash_checks() == refused_from
    assert _prove(world, HOME) == "failed"


def test_made_up_handles_share_the_allowance_of_real_proofs(world: World) -> None:
    """R-20: made-up handles and proofs on real flows draw on one per-source
    allowance: spending it on junk leaves no free guesses on a real flow."""
    world.subject("bob", codes=2)
    flow = self_service.start(world.svc, identifier="bob", source_address=ATTACKER)
    for _ in range(rate_rules.PROOFS_PER_SOURCE.free):
        _prove(world, ATTACKER)
    with pytest.raises(Throttled):
        self_service.submit_proof(
            world.svc, handle=flow, method="recovery_code", response=CODE, source_address=ATTACKER
        )
