"""Operators' local accounts for the console (docs/console.md#signing-in): an
argon2id password, a second factor (TOTP or WebAuthn) enrolled at the first
sign-in, one-time links, and the rules of operator administration. Plain data
and pure functions: no I/O.

A sign-in goes through stages, each kept server-side in a pending sign-in that
lives ``PENDING_TTL``::

    password ok ──┬─ must change it ──> NEW_PASSWORD ─┐
                  │                                   v
                  ├─ no second factor ───────────> ENROL ──> session
                  └─ a second factor ──────> SECOND_FACTOR ──> session

An enrolment link starts at NEW_PASSWORD; the demo's sign-in link is a complete
sign-in (docs/console.md#the-demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from custos.domain.errors import InvalidInput, NotAuthorized
from custos.domain.identities import Operator, Role

#: How long a started sign-in waits for its next step.
PENDING_TTL: Final = timedelta(minutes=10)
#: An enrolment link (``custos operator add --enrolment-link``) works once, this long.
ENROLMENT_LINK_TTL: Final = timedelta(hours=24)
#: A demo sign-in link works once, this long (only ``custos demo`` issues them).
DEMO_LINK_TTL: Final = timedelta(minutes=30)
#: The longest lifetime an API token may be given.
MAX_TOKEN_DAYS: Final = 3650


class FactorKind(StrEnum):
    TOTP = "totp"
    WEBAUTHN = "webauthn"


class SignInStage(StrEnum):
    NEW_PASSWORD = "new_password"  # noqa: S105 - a stage's name, not a password
    ENROL = "enrol"
    SECOND_FACTOR = "second_factor"


class LinkPurpose(StrEnum):
    #: Choose a password, then enrol a second factor.
    ENROL = "enrol"
    #: The demo's way in: a complete sign-in (only ``custos demo`` issues one).
    DEMO = "demo"


class TokenState(StrEnum):
    NONE = "none"  # never issued, or revoked
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class OperatorFactor:
    """A second factor an operator bound; ``revoked_at`` None means active.
    Never holds its secret."""

    id: int
    operator_id: str
    kind: FactorKind
    label: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """A sign-in between its steps, keyed by the SHA-256 of a cookie token."""

    id: int
    operator_id: str
    stage: SignInStage
    #: How it started: "password", "enrolment_link".
    method: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """What administration shows of an operator: never a secret."""

    operator: Operator
    has_password: bool
    must_change_password: bool
    password_set_at: datetime | None
    factors: tuple[OperatorFactor, ...]
    token: TokenState
    token_expires_at: datetime | None
    open_sessions: int
    created_at: datetime


def token_state(has_token: bool, expires_at: datetime | None, now: datetime) -> TokenState:
    if not has_token:
        return TokenState.NONE
    if expires_at is not None and now >= expires_at:
        return TokenState.EXPIRED
    return TokenState.ACTIVE


def token_expiry(now: datetime, days: int | None) -> datetime | None:
    """When a token issued ``now`` with a lifetime of ``days`` expires (None: never).
    Raises InvalidInput outside 1..MAX_TOKEN_DAYS."""
    if days is None:
        return None
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"a token lifetime is 1 to {MAX_TOKEN_DAYS} days")
    return now + timedelta(days=days)


def next_stage(*, must_change_password: bool, has_factor: bool) -> SignInStage:
    """The stage after a password was accepted."""
    if must_change_password:
        return SignInStage.NEW_PASSWORD
    return SignInStage.SECOND_FACTOR if has_factor else SignInStage.ENROL


class SignInExpired(NotAuthorized):
    """A sign-in between its steps is unknown, used up, too old, or its operator
    was disabled meanwhile: start again at the sign-in page."""

    error_id = "sign_in_expired"


class SelfChangeRefused(NotAuthorized):
    """An admin tried to change their own roles, scope or status."""

    error_id = "self_change_refused"


def require_admin(actor: Operator) -> None:
    """Raises NotAuthorized unless ``actor`` is an active admin."""
    if not actor.has_role(Role.ADMIN):
        raise NotAuthorized("only an admin may administer operators")


def refuse_self(actor: Operator, target: Operator, what: str) -> None:
    """Raises SelfChangeRefused when ``actor`` is ``target``: another admin must
    change an admin's roles or status (no one raises or keeps their own access)."""
    if actor.id == target.id or actor.person == target.person:
        raise SelfChangeRefused(
            f"you cannot {what} yourself; ask another admin",
            operator=target.name,
        )
