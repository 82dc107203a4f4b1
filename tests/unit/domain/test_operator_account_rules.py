"""Operator administration and console sign-in as pure rules
(domain/operator_accounts.py, domain/console.py): token lifetimes and states,
the sign-in stages, admins only, nobody changes their own access, and when a
console session or a sign-in between its steps is still live (R-37)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custos.domain.console import ConsoleSession
from custos.domain.errors import InvalidInput, NotAuthorized
from custos.domain.model import Operator, Role
from custos.domain.operator_accounts import (
    DEMO_LINK_TTL,
    ENROLMENT_LINK_TTL,
    MAX_TOKEN_DAYS,
    PENDING_TTL,
    PendingSignIn,
    SelfChangeRefused,
    SignInStage,
    TokenState,
    next_stage,
    refuse_self,
    require_admin,
    token_expiry,
    token_state,
)

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(hours=12)


def operator(op_id: str, person: str, *roles: Role) -> Operator:
    return Operator(
        id=op_id, name=f"{person}-name", person=person, roles=frozenset(roles), scope=frozenset()
    )


def test_token_state_is_none_active_or_expired_at_its_expiry() -> None:
    """R-37: an operator token is expired from its expiry on, never before."""
    assert token_state(False, T0, T0 - timedelta(days=1)) == TokenState.NONE
    assert token_state(True, None, T0) == TokenState.ACTIVE
    assert token_state(True, T0, T0 - timedelta(seconds=1)) == TokenState.ACTIVE
    assert token_state(True, T0, T0) == TokenState.EXPIRED


@pytest.mark.parametrize("days", [1, 30, MAX_TOKEN_DAYS])
def test_token_expiry_is_the_lifetime_in_days_from_now(days: int) -> None:
    assert token_expiry(T0, days) == T0 + timedelta(days=days)


def test_token_without_lifetime_never_expires() -> None:
    assert token_expiry(T0, None) is None


@pytest.mark.parametrize("days", [0, -1, MAX_TOKEN_DAYS + 1])
def test_token_lifetime_outside_its_bounds_is_refused(days: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        token_expiry(T0, days)
    assert refused.value.message == "a token lifetime is 1 to 3650 days"
    assert MAX_TOKEN_DAYS == 3650


@pytest.mark.parametrize(
    ("must_change", "has_factor", "stage"),
    [
        (True, True, SignInStage.NEW_PASSWORD),
        (True, False, SignInStage.NEW_PASSWORD),
        (False, True, SignInStage.SECOND_FACTOR),
        (False, False, SignInStage.ENROL),
    ],
)
def test_next_stage_after_the_password(
    must_change: bool, has_factor: bool, stage: SignInStage
) -> None:
    """A one-time password is replaced first; then the second factor, or its
    enrolment when none is bound (no console session on a password alone)."""
    assert next_stage(must_change_password=must_change, has_factor=has_factor) == stage


def test_only_an_admin_administers_operators() -> None:
    require_admin(operator("op-1", "ada", Role.ADMIN))
    with pytest.raises(NotAuthorized) as refused:
        require_admin(operator("op-2", "bob", Role.APPROVER, Role.REQUESTER))
    assert refused.value.message == "only an admin may administer operators"
    assert refused.value.error_id == "not_authorized"


def test_nobody_changes_their_own_access() -> None:
    """The same operator record, or another record of the same person, is refused
    (error id self_change_refused, naming the target)."""
    ada = operator("op-1", "ada", Role.ADMIN)
    for target in (ada, operator("op-9", "ada", Role.REQUESTER)):
        with pytest.raises(SelfChangeRefused) as refused:
            refuse_self(ada, target, "disable")
        assert refused.value.message == "you cannot disable yourself; ask another admin"
        assert refused.value.details == {"operator": "ada-name"}
        assert refused.value.error_id == "self_change_refused"
    refuse_self(ada, operator("op-2", "grace", Role.ADMIN), "disable")  # another person


def pending(**changes: object) -> PendingSignIn:
    values: dict[str, object] = {
        "id": 1,
        "operator_id": "op-1",
        "stage": SignInStage.SECOND_FACTOR,
        "method": "password",
        "created_at": T0,
        "expires_at": T0 + timedelta(minutes=5),
    }
    values.update(changes)
    return PendingSignIn(**values)  # type: ignore[arg-type]


def test_a_pending_sign_in_is_live_until_used_or_expired() -> None:
    assert pending().live(T0)
    assert pending().live(T0 + timedelta(minutes=5) - timedelta(microseconds=1))
    assert not pending().live(T0 + timedelta(minutes=5))
    assert not pending(used_at=T0).live(T0)


def session(**changes: object) -> ConsoleSession:
    values: dict[str, object] = {
        "id": 1,
        "operator_id": "op-1",
        "method": "password",
        "created_at": T0,
        "last_seen_at": T0,
    }
    values.update(changes)
    return ConsoleSession(**values)  # type: ignore[arg-type]


def test_a_console_session_ends_when_idle_too_old_or_signed_out() -> None:
    """R-37: idle 15 minutes or 12 hours old ends a session, at the limit itself;
    either limit alone is enough, as is signing out."""
    assert session().live(T0 + IDLE - timedelta(seconds=1), idle=IDLE, absolute=ABSOLUTE)
    assert not session().live(T0 + IDLE, idle=IDLE, absolute=ABSOLUTE)
    old = session(last_seen_at=T0 + ABSOLUTE - timedelta(minutes=1))
    assert old.live(T0 + ABSOLUTE - timedelta(seconds=1), idle=IDLE, absolute=ABSOLUTE)
    assert not old.live(T0 + ABSOLUTE, idle=IDLE, absolute=ABSOLUTE)
    assert not session(ended_at=T0).live(T0, idle=IDLE, absolute=ABSOLUTE)


def test_sign_in_steps_and_one_time_links_live_as_documented() -> None:
    """docs/console.md: a started sign-in waits 10 minutes for its next step,
    an enrolment link works for 24 hours, a demo link for 30 minutes."""
    lifetimes = [ttl.total_seconds() for ttl in (PENDING_TTL, ENROLMENT_LINK_TTL, DEMO_LINK_TTL)]
    assert lifetimes == [10 * 60, 24 * 3600, 30 * 60]
