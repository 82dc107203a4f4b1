"""WebAuthn challenges and credentials in the store: single use, five minutes,
bound to one session or case; unknown credentials and counter regressions
refused (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

from subject_helpers import key_assertion, sign_in, with_password
from webauthn_authenticator import ORIGIN, SoftAuthenticator, enrol_webauthn

from conftest import World
from custos.service.ceremonies import webauthn_ceremonies
from custos.service.ceremonies.webauthn_ceremonies import SIGN_IN
from custos.service.enrolment import subject_sessions


def _partial(world: World, subject_id: str) -> str:
    return subject_sessions.sign_in(
        world.svc, identifier=subject_id, password="correct-horse-battery-staple-42"
    ).token


def _check(world: World, token: str, response: str) -> bool:
    ctx = subject_sessions.current(world.svc, token, allow_partial=True)
    with world.svc.uow() as uow:
        passed = webauthn_ceremonies.check_assertion(
            world.svc,
            uow,
            subject=ctx.subject,
            purpose=SIGN_IN,
            response=response,
            now=world.clock.now(),
            session_id=ctx.session.id,
        )
        uow.commit()
    return passed


def _setup(world: World) -> SoftAuthenticator:
    world.subject("dana")
    with_password(world, "dana")
    return enrol_webauthn(world, "dana")


def test_assertion_passes_once_and_its_replay_fails(world: World) -> None:
    key = _setup(world)
    token = _partial(world, "dana")
    response = key_assertion(world, token, key)
    assert _check(world, token, response)
    assert not _check(world, token, response)  # the challenge was used


def test_expired_challenge_fails(world: World) -> None:
    key = _setup(world)
    token = _partial(world, "dana")
    response = key_assertion(world, token, key)
    world.clock.advance(timedelta(minutes=5, seconds=1))
    assert not _check(world, token, response)


def test_challenge_of_another_session_fails(world: World) -> None:
    key = _setup(world)
    mine, other = _partial(world, "dana"), _partial(world, "dana")
    response = key_assertion(world, mine, key)
    assert not _check(world, other, response)


def test_unknown_credential_fails(world: World) -> None:
    _setup(world)
    token = _partial(world, "dana")
    stranger = SoftAuthenticator()
    ctx = subject_sessions.current(world.svc, token, allow_partial=True)
    with world.svc.uow() as uow:
        options = webauthn_ceremonies.begin_assertion(
            world.svc,
            uow,
            subject=ctx.subject,
            purpose=SIGN_IN,
            require_uv=True,
            now=world.clock.now(),
            session_id=ctx.session.id,
        )
        uow.commit()
    assert not _check(world, token, json.dumps(stranger.assert_(options, origin=ORIGIN)))


def test_counter_regression_is_refused_and_the_stored_counter_kept(world: World) -> None:
    """A clone answers with an older counter than the original already used."""
    key = _setup(world)
    token = _partial(world, "dana")
    assert _check(world, token, key_assertion(world, token, key))  # counter 1
    assert _check(world, token, key_assertion(world, token, key))  # counter 2
    key.sign_count = 0  # the clone's counter: its next assertion says 1
    assert not _check(world, token, key_assertion(world, token, key))
    with world.svc.uow() as uow:
        (stored,) = uow.authenticators.credentials("dana")
    assert stored.sign_count == 2


def test_revoked_key_no_longer_signs_in(world: World) -> None:
    """R-29."""
    key = _setup(world)
    token = sign_in(world, "dana", key=key).token
    with world.svc.uow() as uow:
        (bound,) = uow.authenticators.active("dana")
        uow.authenticators.revoke(bound.id, reason="lost", now=world.clock.now())
        uow.commit()
    partial = _partial(world, "dana")
    assert subject_sessions.current(world.svc, token).subject.mfa_bound is False
    assert not _check(world, partial, key_assertion(world, partial, key))
