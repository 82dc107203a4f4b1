"""A subject's own view of its locked authenticators, and R-5's rule for
resetting one from a session: a full re-authentication in the last five
minutes (R-27) at the locked authenticator's AAL or above. A session below
that level is refused, naming the level; the subject then recovers the
account instead, whose fresh proof resets what its tier's AAL allows
(service/recovery/lock_resets.py)."""

from __future__ import annotations

from dataclasses import dataclass

from custos.domain.authenticator_locks import lock_aal, may_reset_from_session
from custos.domain.enrolment import Aal
from custos.domain.errors import NotFound, ReauthenticationRequired
from custos.domain.events import EventType
from custos.proofing.base import METHODS
from custos.service.enrolment import subject_sessions
from custos.service.enrolment.self_management import record, require_fresh
from custos.service.ports import Services
from custos.service.signals import throttles


@dataclass(frozen=True, slots=True)
class Lock:
    method: str
    #: The level a fresh proof must reach to reset it.
    aal: Aal
    #: Whether this session's level is enough (re-authentication aside).
    session_may_reset: bool


def listed(svc: Services, *, token: str) -> list[Lock]:
    """The methods R-18 has locked for the signed-in subject."""
    ctx = subject_sessions.current(svc, token)
    with svc.uow(read_only=True) as uow:
        locked = throttles.locked_methods(
            uow, who=throttles.subject_who(ctx.subject.id), methods=METHODS
        )
    return [
        Lock(m, lock_aal(m), may_reset_from_session(ctx.session.aal, m)) for m in sorted(locked)
    ]


def reset(svc: Services, *, token: str, method: str) -> Lock:
    """Reset the lock of ``method`` for the signed-in subject (R-5). Raises
    NotFound when it is not locked, ReauthenticationRequired when the session is
    not fresh or below the authenticator's level."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    subject_id = ctx.subject.id
    who = throttles.subject_who(subject_id)
    with svc.uow() as uow:
        require_fresh(ctx, now)
        if method not in throttles.locked_methods(uow, who=who, methods=METHODS):
            raise NotFound(f"'{method}' is not locked")
        needed = lock_aal(method)
        if not may_reset_from_session(ctx.session.aal, method):
            raise ReauthenticationRequired(
                f"resetting the lock of {method} needs a sign-in at AAL{int(needed)} "
                f"(this one is AAL{int(ctx.session.aal)}); sign in with a stronger factor, "
                "or recover the account (R-5)",
                required_aal=int(needed),
                session_aal=int(ctx.session.aal),
            )
        throttles.lift_lock(uow, who=who, method=method)
        record(
            uow,
            EventType.AUTHENTICATOR_LOCK_RESET,
            subject_id,
            now,
            data={
                "method": method,
                "authenticator_aal": int(needed),
                "session_aal": int(ctx.session.aal),
            },
            reason=f"{method} (AAL{int(needed)}) reset from a fresh AAL{int(ctx.session.aal)} "
            "session",
        )
        uow.commit()
    return Lock(method, needed, True)
