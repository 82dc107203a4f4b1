"""Locking a subject's method the way an attacker would: 100 failed attempts
counted by the real throttles (R-18), from different sources and spaced past
every delay, so only the per-authenticator counter reaches its lock."""

from __future__ import annotations

from datetime import timedelta

from conftest import World
from custos.domain.authenticator_locks import SIGN_IN_METHOD
from custos.proofing.base import METHODS
from custos.proofing.throttle import MAX_CONSECUTIVE_FAILURES
from custos.service.signals import throttles


def lock(world: World, subject_id: str, method: str) -> None:
    """Lock ``method`` (``password``: sign-in) for ``subject_id``."""
    who = throttles.subject_who(subject_id)
    start = world.clock.now()
    with world.svc.uow() as uow:
        for n in range(MAX_CONSECUTIVE_FAILURES):
            at, source = start + timedelta(seconds=61 * n), f"198.51.{n // 250}.{n % 250}"
            if method == SIGN_IN_METHOD:
                refused = throttles.reserve_sign_in(
                    uow, who=who, source=source, now=at, names_account=False
                )
            else:
                refused = throttles.reserve_proof(
                    uow, who=who, method=method, source=source, now=at
                )
            assert refused is None
        uow.commit()


def locked(world: World, subject_id: str) -> set[str]:
    with world.svc.uow() as uow:
        return set(
            throttles.locked_methods(uow, who=throttles.subject_who(subject_id), methods=METHODS)
        )
