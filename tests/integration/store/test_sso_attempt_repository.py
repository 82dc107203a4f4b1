"""Started single sign-ons on SQLite and PostgreSQL: an attempt is taken once,
whoever asks second gets nothing, and expired ones are purged."""

from __future__ import annotations

from datetime import timedelta

from conftest import World
from custos.credentials.tokens import token_digest
from custos.store.sso_attempt_repository import SsoAttempt


def _attempt(world: World, state: str, *, minutes: int = 10) -> SsoAttempt:
    return SsoAttempt(
        state_digest=token_digest(state),
        browser_digest=token_digest("browser-" + state),
        return_to="/console/cases",
        expires_at=world.clock.now() + timedelta(minutes=minutes),
    )


def test_an_attempt_is_taken_once(world: World) -> None:
    now = world.clock.now()
    with world.svc.uow() as uow:
        uow.sso_attempts.add(_attempt(world, "s1"), now=now)
        uow.commit()
    with world.svc.uow() as uow:
        taken = uow.sso_attempts.take(token_digest("s1"))
        again = uow.sso_attempts.take(token_digest("s1"))
        uow.commit()
    assert taken is not None and taken.return_to == "/console/cases"
    assert taken.expires_at == now + timedelta(minutes=10)
    assert again is None
    with world.svc.uow() as uow:
        assert uow.sso_attempts.take(token_digest("s1")) is None
        assert uow.sso_attempts.take(token_digest("never")) is None


def test_expired_attempts_are_purged(world: World) -> None:
    now = world.clock.now()
    with world.svc.uow() as uow:
        uow.sso_attempts.add(_attempt(world, "old", minutes=-1), now=now)
        uow.sso_attempts.add(_attempt(world, "new"), now=now)
        assert uow.sso_attempts.purge_expired(now=now) == 1
        uow.commit()
    with world.svc.uow() as uow:
        assert uow.sso_attempts.take(token_digest("old")) is None
        assert uow.sso_attempts.take(token_digest("new")) is not None
