"""Subject sign-in and sessions (R-24, R-26, R-27, R-30), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from recoveries import self_service_recovery
from sqlalchemy import select
from subject_helpers import PASSWORD, sign_in, totp_code, with_password

from conftest import World
from custos.credentials.tokens import token_digest
from custos.domain.enrolment import Aal
from custos.domain.errors import InvalidInput, NotAuthorized, Throttled
from custos.service.enrolment import subject_sessions
from custos.store.tables import ledger
from custos.store.tables import subject_sessions as sessions_table


def test_password_only_subject_gets_a_complete_session_at_aal1(world: World) -> None:
    """R-30: the token carries 256 bits and only its SHA-256 is stored."""
    world.subject("bob")
    with_password(world, "bob")
    result = subject_sessions.sign_in(world.svc, identifier="bob", password=PASSWORD)
    assert (result.aal, result.second_factor_due) == (Aal.AAL1, False)
    assert result.token.startswith("css_") and len(result.token) == 4 + 43
    with world.svc.engine.connect() as conn:
        stored = list(conn.execute(select(sessions_table.c.digest)).scalars())
    assert stored == [token_digest(result.token)]
    assert subject_sessions.current(world.svc, result.token).subject.id == "bob"


def test_wrong_password_and_unknown_subject_fail_alike(world: World) -> None:
    """One answer for every failure; failures are recorded in the ledger (R-36)."""
    world.subject("bob")
    with_password(world, "bob")
    with pytest.raises(NotAuthorized) as wrong:
        subject_sessions.sign_in(world.svc, identifier="bob", password="not-it")
    with pytest.raises(NotAuthorized) as unknown:
        subject_sessions.sign_in(world.svc, identifier="nobody", password="not-it")
    assert wrong.value.message == unknown.value.message
    with world.svc.engine.connect() as conn:
        types = list(
            conn.execute(select(ledger.c.type).where(ledger.c.subject_id == "bob")).scalars()
        )
    assert "auth:session:sign_in_failed" in types


def test_repeated_wrong_passwords_are_throttled(world: World) -> None:
    """R-18: growing delays after a few free failures, without locking the account."""
    world.subject("bob")
    with_password(world, "bob")
    for _ in range(4):
        with pytest.raises(NotAuthorized):
            subject_sessions.sign_in(world.svc, identifier="bob", password="not-it")
    with pytest.raises(Throttled):
        subject_sessions.sign_in(world.svc, identifier="bob", password=PASSWORD)


def test_bound_totp_requires_a_second_factor_and_a_new_session_id(world: World) -> None:
    """R-26: completing the sign-in replaces the token; the partial one is dead."""
    world.subject("carol", with_totp=True)
    with_password(world, "carol")
    first = subject_sessions.sign_in(world.svc, identifier="carol", password=PASSWORD)
    assert first.second_factor_due and first.second_factors == ("totp",)
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, first.token)  # partial: may only finish signing in
    done = subject_sessions.complete_second_factor(
        world.svc, token=first.token, method="totp", response=totp_code(world, "carol")
    )
    assert done.token != first.token and done.aal == Aal.AAL2
    assert subject_sessions.current(world.svc, done.token).session.fresh(world.clock.now())
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, first.token, allow_partial=True)


def test_wrong_second_factor_fails_and_keeps_the_session_partial(world: World) -> None:
    world.subject("carol", with_totp=True)
    with_password(world, "carol")
    first = subject_sessions.sign_in(world.svc, identifier="carol", password=PASSWORD)
    with pytest.raises(NotAuthorized):
        subject_sessions.complete_second_factor(
            world.svc, token=first.token, method="totp", response="000000"
        )
    with pytest.raises(InvalidInput):
        subject_sessions.complete_second_factor(
            world.svc, token=first.token, method="webauthn", response="{}"
        )
    assert subject_sessions.current(
        world.svc, first.token, allow_partial=True
    ).session.second_factor_due


def test_session_ends_after_an_hour_idle(world: World) -> None:
    """R-30: idle timeout 1 h."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    world.clock.advance(timedelta(minutes=59))
    subject_sessions.current(world.svc, token)  # activity restarts the idle clock
    world.clock.advance(timedelta(minutes=59))
    subject_sessions.current(world.svc, token)
    world.clock.advance(timedelta(minutes=61))
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, token)


def test_session_ends_after_a_day_however_active(world: World) -> None:
    """R-30: absolute timeout 24 h, kept across re-authentication."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    for _ in range(23):
        world.clock.advance(timedelta(minutes=58))
        token = subject_sessions.reauthenticate(
            world.svc, token=token, password=PASSWORD, method=None, response=""
        ).token
    world.clock.advance(timedelta(hours=2))
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, token)


def test_reauthentication_is_fresh_for_five_minutes(world: World) -> None:
    """R-27: a sensitive change needs a full re-authentication under 5 minutes old."""
    world.subject("carol", with_totp=True)
    with_password(world, "carol")
    token = sign_in(world, "carol").token
    world.clock.advance(timedelta(minutes=6))
    assert not subject_sessions.current(world.svc, token).session.fresh(world.clock.now())
    with pytest.raises(NotAuthorized):  # the password alone is not a full re-authentication
        subject_sessions.reauthenticate(
            world.svc, token=token, password=PASSWORD, method="totp", response="123456"
        )
    again = subject_sessions.reauthenticate(
        world.svc, token=token, password=PASSWORD, method="totp", response=totp_code(world, "carol")
    )
    assert again.token != token
    assert subject_sessions.current(world.svc, again.token).session.fresh(world.clock.now())


def test_sign_out_ends_the_session(world: World) -> None:
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    subject_sessions.sign_out(world.svc, token)
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, token)


def test_recovery_ends_every_custos_session_of_the_subject(world: World) -> None:
    """R-24, R-26: after a recovery the subject signs in again."""
    world.subject("bob")
    with_password(world, "bob")
    token = sign_in(world, "bob").token
    self_service_recovery(world, "bob")
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, token)
    with world.svc.engine.connect() as conn:
        reason = conn.execute(select(sessions_table.c.end_reason)).scalar_one()
    assert reason == "recovery"
