"""Operators' console sessions (docs/console.md; R-26, R-30).

A session is opened only after a complete sign-in (local password and second
factor, or single sign-on) and gets a new random token: a session token is
never carried over from before the sign-in (R-26). Only its SHA-256 is stored.
A session ends after ``console.idle_minutes`` without a request, after
``console.absolute_hours`` in all (R-30), on sign-out, on "sign out everywhere",
and at once when its operator is disabled: every request re-reads the operator.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.console import ConsoleSession
from custos.domain.errors import NotAuthorized
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Operator
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

SESSION_PREFIX = "ccs"
SIGN_IN_AGAIN = "your console session ended; sign in again"


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    session: ConsoleSession
    operator: Operator
    #: Derived from the session token: forms and htmx requests must send it back.
    csrf: str


def csrf_for(svc: Services, token: str) -> str:
    """The CSRF token of the session holding ``token``: an HMAC of it, so it needs
    no storage and changes with every new session."""
    return hmac.new(svc.mac_key, b"console-csrf:" + token.encode(), "sha256").hexdigest()


def open_session(svc: Services, operator_id: str, *, method: str, source: str | None) -> str:
    """Open a session for the active operator after a complete sign-in; return its
    token (the only time it exists in clear). Raises NotAuthorized when the
    operator is unknown or disabled."""
    now = svc.clock.now()
    token = issue_token(SESSION_PREFIX)
    with svc.uow() as uow:
        operator = uow.operators.get(operator_id)
        if operator is None or not operator.active:
            raise NotAuthorized("this operator account is disabled")
        uow.console_sessions.add(
            token.digest, operator_id=operator_id, method=method, source=source, now=now
        )
        _event(uow, EventType.OPERATOR_SIGNED_IN, operator, now, {"method": method})
        uow.commit()
    return token.plain


def current(svc: Services, token: str) -> ConsoleContext:
    """The live session behind ``token`` and its operator (the idle clock
    restarted). Raises NotAuthorized for an unknown, ended, idle or too old
    session, or a disabled operator."""
    if not looks_like_token(token, prefix=SESSION_PREFIX):
        raise NotAuthorized("sign in first")
    now = svc.clock.now()
    config = svc.settings.console
    with svc.uow() as uow:
        session = uow.console_sessions.by_digest(token_digest(token))
        if session is None:
            raise NotAuthorized("sign in first")
        live = session.live(
            now,
            idle=timedelta(minutes=config.idle_minutes),
            absolute=timedelta(hours=config.absolute_hours),
        )
        operator = uow.operators.get(session.operator_id)
        if not live or operator is None or not operator.active:
            if session.ended_at is None and operator is not None:
                reason = "expired" if not live else "operator disabled"
                uow.console_sessions.end(session.id, now=now, reason=reason)
                _event(uow, EventType.OPERATOR_SESSION_ENDED, operator, now, {"reason": reason})
                uow.commit()
            raise NotAuthorized(SIGN_IN_AGAIN)
        uow.console_sessions.touch(session.id, now=now)
        uow.commit()
    return ConsoleContext(session=session, operator=operator, csrf=csrf_for(svc, token))


def sign_out(svc: Services, token: str) -> None:
    """End the session behind ``token``; nothing happens for an unknown one."""
    if not looks_like_token(token, prefix=SESSION_PREFIX):
        return
    now = svc.clock.now()
    with svc.uow() as uow:
        session = uow.console_sessions.by_digest(token_digest(token))
        if session is None:
            return
        operator = uow.operators.get(session.operator_id)
        if uow.console_sessions.end(session.id, now=now, reason="signed out") and operator:
            _event(uow, EventType.OPERATOR_SESSION_ENDED, operator, now, {"reason": "signed out"})
        uow.commit()


def end_all(uow: UnitOfWork, operator: Operator, *, now: datetime, reason: str, actor: str) -> int:
    """End every console session of ``operator`` in the caller's transaction
    ("sign out everywhere", a disabled operator); return how many ended."""
    ended = uow.console_sessions.end_all(operator.id, now=now, reason=reason)
    if ended:
        _event(
            uow,
            EventType.OPERATOR_SESSION_ENDED,
            operator,
            now,
            {"reason": reason, "sessions": ended},
            actor=actor,
        )
    return ended


def sign_out_everywhere(svc: Services, operator: Operator) -> int:
    """End every console session of ``operator`` (the one asking included)."""
    now = svc.clock.now()
    with svc.uow() as uow:
        ended = end_all(
            uow, operator, now=now, reason="signed out everywhere", actor=operator.actor
        )
        uow.commit()
    return ended


def _event(
    uow: UnitOfWork,
    type_: EventType,
    operator: Operator,
    now: datetime,
    data: dict[str, object],
    *,
    actor: str | None = None,
) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=type_,
                occurred_at=now,
                actor=actor or operator.actor,
                subject_id=None,
                case_id=None,
                data={"operator": operator.id, **data},
            )
        ]
    )
