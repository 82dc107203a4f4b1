"""Sign-in throttles by subject and source (R-18, R-19, R-20), on SQLite and
PostgreSQL: an attacker's failures brake the attacker, not the owner at their
own address; one source cannot spray passwords across accounts; an identifier
that matches nobody is throttled exactly like a real account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from subject_helpers import PASSWORD, with_password

from conftest import World
from custos.domain.errors import NotAuthorized, Throttled
from custos.proofing import rate_rules
from custos.service.enrolment import subject_sessions
from custos.store.tables import ledger

ATTACKER, HOME = "198.51.100.66", "192.0.2.10"
#: Failures one source gets before its first delay (the steep per-source brake).
FREE = rate_rules.PER_AUTHENTICATOR_SOURCE.free + 1


def _attempt(world: World, identifier: str, password: str, source: str | None) -> str:
    """What one sign-in came to: ``signed_in``, ``failed`` or ``throttled:<message>``."""
    try:
        subject_sessions.sign_in(
            world.svc, identifier=identifier, password=password, source_address=source
        )
    except NotAuthorized:
        return "failed"
    except Throttled as exc:
        return f"throttled:{exc.message}:{exc.retry_after_seconds}:{exc.details['locked']}"
    return "signed_in"


def test_failures_from_one_source_do_not_delay_the_owner_at_another(world: World) -> None:
    """R-18, R-20: wrong passwords from the attacker's address put only that
    address into delays; the owner signs in from home at once, and the owner's
    success does not lift the attacker's delay."""
    world.subject("bob")
    with_password(world, "bob")
    tries = [_attempt(world, "bob", "not-it", ATTACKER) for _ in range(FREE + 1)]
    assert tries[:FREE] == ["failed"] * FREE
    assert tries[FREE].startswith("throttled:")
    assert _attempt(world, "bob", PASSWORD, HOME) == "signed_in"
    assert _attempt(world, "bob", PASSWORD, ATTACKER).startswith("throttled:")


def test_failures_from_many_sources_delay_the_owner_at_most_a_minute(world: World) -> None:
    """R-18: failures spread over many addresses reach only the per-subject
    ceiling, which delays gently (at most 60 s) and never for a quarter hour;
    once it passed, the owner signs in."""
    world.subject("bob")
    with_password(world, "bob")
    ceiling = rate_rules.PER_AUTHENTICATOR.max_delay
    for i in range(rate_rules.PER_AUTHENTICATOR.free + 10):
        world.clock.advance(ceiling)  # each source waits out the gentle delay
        assert _attempt(world, "bob", "not-it", f"203.0.113.{i}") == "failed"
    refused = _attempt(world, "bob", PASSWORD, HOME)
    message, retry_after, locked = refused.rsplit(":", 2)
    assert 1 <= int(retry_after) <= ceiling.total_seconds()
    assert locked == "False", message
    world.clock.advance(ceiling)
    assert _attempt(world, "bob", PASSWORD, HOME) == "signed_in"


def test_delays_grow_per_subject_and_source(world: World) -> None:
    """R-18: from one source, the free failures, then 1 s, then 2 s: the
    delays double while the failures continue; a success clears them."""
    world.subject("bob")
    with_password(world, "bob")
    for _ in range(FREE):
        assert _attempt(world, "bob", "not-it", ATTACKER) == "failed"
    assert _attempt(world, "bob", PASSWORD, ATTACKER).endswith(":1:False")
    world.clock.advance(timedelta(seconds=1))
    assert _attempt(world, "bob", "not-it", ATTACKER) == "failed"
    assert _attempt(world, "bob", PASSWORD, ATTACKER).endswith(":2:False")
    world.clock.advance(timedelta(seconds=2))
    assert _attempt(world, "bob", PASSWORD, ATTACKER) == "signed_in"
    for _ in range(FREE):  # the success cleared this source's run of failures
        assert _attempt(world, "bob", "not-it", ATTACKER) == "failed"


def test_spraying_many_identifiers_from_one_source_is_refused(world: World) -> None:
    """R-18, R-20: one address trying a password across many identifiers (known
    or not) is refused once the per-source allowance is spent; the real subject
    at another address is not affected."""
    world.subject("bob")
    with_password(world, "bob")
    allowance = rate_rules.SIGN_INS_PER_SOURCE.free
    names = ["bob"] + [f"nobody{i}" for i in range(allowance - 1)]
    assert [_attempt(world, n, "Summer2026!", ATTACKER) for n in names] == ["failed"] * allowance
    refused = _attempt(world, "someone-else", "Summer2026!", ATTACKER)
    assert refused.startswith("throttled:too many sign-in attempts")
    assert _attempt(world, "bob", PASSWORD, HOME) == "signed_in"
    world.clock.advance(rate_rules.SIGN_INS_PER_SOURCE.spacing)
    assert _attempt(world, "someone-else", "Summer2026!", ATTACKER) == "failed"


@pytest.mark.parametrize("source", [ATTACKER, None])
def test_unknown_identifier_is_throttled_like_a_known_account(
    world: World, source: str | None
) -> None:
    """R-19: the same answers, in the same order, with the same retry time, for
    a subject with a wrong password and for an identifier that matches nobody."""
    world.subject("bob")
    with_password(world, "bob")
    known = [_attempt(world, "bob", "not-it", source) for _ in range(FREE + 2)]
    unknown = [_attempt(world, "nobody", "not-it", source) for _ in range(FREE + 2)]
    assert known == unknown
    assert known[FREE].startswith("throttled:")


def test_unknown_identifier_failure_is_audited_without_the_identifier(world: World) -> None:
    """R-36, R-37: a sign-in naming nobody is recorded as a failure under a keyed
    stand-in; the identifier itself is not stored."""
    _attempt(world, "nobody@example.org", "not-it", ATTACKER)
    with world.svc.engine.connect() as conn:
        rows = list(
            conn.execute(
                select(ledger.c.actor, ledger.c.subject_id, ledger.c.canonical).where(
                    ledger.c.type == "auth:session:sign_in_failed"
                )
            )
        )
    assert len(rows) == 1
    actor, subject_id, payload = rows[0]
    assert (actor, subject_id) == (subject_sessions.UNKNOWN_ACTOR, None)
    assert "nobody" not in str(payload)
