"""Helpers for tests of subject self-management: a known directory password and
a complete sign-in (password, then the second factor the subject has bound)."""

from __future__ import annotations

import json
from datetime import timedelta

from webauthn_authenticator import ORIGIN, SoftAuthenticator

from conftest import World
from custos.service.enrolment import subject_sessions
from custos.service.enrolment.subject_sessions import SignedIn

PASSWORD = "correct-horse-battery-staple-42"


def with_password(world: World, subject_id: str, password: str = PASSWORD) -> None:
    world.directory.set_password(subject_id, password, must_change=False)


def totp_code(world: World, subject_id: str) -> str:
    """The next TOTP code: a step is good once, so move the clock to a fresh one."""
    world.clock.advance(timedelta(seconds=30))
    return world.totp_now(subject_id)


def key_assertion(world: World, token: str, key: SoftAuthenticator) -> str:
    """The subject's key answering this session's sign-in challenge, as JSON."""
    ctx = subject_sessions.current(world.svc, token, allow_partial=True)
    from custos.service.ceremonies import webauthn_ceremonies

    with world.svc.uow() as uow:
        options = webauthn_ceremonies.begin_assertion(
            world.svc,
            uow,
            subject=ctx.subject,
            purpose=webauthn_ceremonies.SIGN_IN,
            require_uv=True,
            now=world.clock.now(),
            session_id=ctx.session.id,
        )
        uow.commit()
    return json.dumps(key.assert_(options, origin=ORIGIN))


def sign_in(world: World, subject_id: str, *, key: SoftAuthenticator | None = None) -> SignedIn:
    """A complete sign-in: ``key``, else TOTP, else a saved code as second factor
    when one is bound."""
    first = subject_sessions.sign_in(world.svc, identifier=subject_id, password=PASSWORD)
    if not first.second_factor_due:
        return first
    if key is not None:
        return subject_sessions.complete_second_factor(
            world.svc,
            token=first.token,
            method="webauthn",
            response=key_assertion(world, first.token, key),
        )
    if "totp" in first.second_factors:
        return subject_sessions.complete_second_factor(
            world.svc, token=first.token, method="totp", response=totp_code(world, subject_id)
        )
    return subject_sessions.complete_second_factor(
        world.svc,
        token=first.token,
        method="recovery_code",
        response=world.recovery_codes[subject_id].pop(),
    )
