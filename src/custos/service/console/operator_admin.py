"""Operator administration, for the console's pages and ``custos operator ...``
(docs/console.md#operators): list, add, disable, enable, change roles and scope,
rotate or revoke the API token, reset the second factor, hand out a one-time
password or enrolment link.

Each change is a ledger event in the transaction that makes it. In the console
the actor is a signed-in operator who must be an admin and may not change their
own roles, scope or status nor reset their own second factor (another admin
must). On the command line the actor is the host's administrator
(``cli:local``), who holds the database and the sealing key anyway. Disabling an
operator ends their console sessions and unfinished sign-ins in the same
transaction; their API token is refused from then on (``authenticate`` reads
``active``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from custos.credentials.passwords import generate_temporary_password
from custos.credentials.tokens import OPERATOR_PREFIX, issue_token
from custos.domain.errors import InvalidInput, NotFound
from custos.domain.events import EventType, utc
from custos.domain.model import Operator, Role
from custos.domain.operator_accounts import (
    LinkPurpose,
    OperatorAccount,
    refuse_self,
    require_admin,
    token_expiry,
    token_state,
)
from custos.service.console import operator_links, operator_passwords, sessions
from custos.service.console.operator_ledger import access_data, record
from custos.service.ports import Services
from custos.service.recovery import operators as operator_records
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork

#: Who acts: a signed-in console operator, or the command line's actor string.
Actor = Operator | str
CLI_ACTOR = "cli:local"


@dataclass(frozen=True, slots=True)
class Added:
    """A new operator and what to hand over once (each None when not asked for)."""

    operator: Operator
    api_token: str | None = field(default=None, repr=False)
    one_time_password: str | None = field(default=None, repr=False)
    enrolment_link: str | None = field(default=None, repr=False)


def _actor(actor: Actor) -> str:
    """The ledger actor; raises NotAuthorized unless a console actor is an admin."""
    if isinstance(actor, Operator):
        require_admin(actor)
        return actor.actor
    return actor


def _target(uow: UnitOfWork, name: str) -> Operator:
    operator = uow.operators.by_name(name)
    if operator is None:
        raise NotFound(f"no operator named '{name[:100]}'")
    return operator


def _not_self(actor: Actor, target: Operator, what: str) -> None:
    if isinstance(actor, Operator):
        refuse_self(actor, target, what)


def _account(uow: UnitOfWork, operator: Operator, now: datetime) -> OperatorAccount:
    password = uow.operator_credentials.password(operator.id)
    token = uow.operators.token_of(operator.id)
    assert token is not None
    has_token, expires_at, created_at = token
    return OperatorAccount(
        operator=operator,
        has_password=password is not None,
        must_change_password=password is not None and password.must_change,
        password_set_at=None if password is None else password.set_at,
        factors=tuple(uow.operator_credentials.factors(operator.id)),
        token=token_state(has_token, expires_at, now),
        token_expires_at=expires_at,
        open_sessions=uow.console_sessions.open_count(operator.id),
        created_at=created_at,
    )


def accounts(svc: Services, actor: Actor) -> list[OperatorAccount]:
    """Every operator, by name."""
    _actor(actor)
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        return [_account(uow, o, now) for o in uow.operators.all()]


def account(svc: Services, actor: Actor | None, name: str) -> OperatorAccount:
    """One operator's account. ``actor`` None: the operator's own (My account).
    Raises NotFound."""
    if actor is not None:
        _actor(actor)
    with svc.uow(read_only=True) as uow:
        return _account(uow, _target(uow, name), svc.clock.now())


def add(
    svc: Services,
    actor: Actor,
    *,
    name: str,
    roles: list[Role],
    scope: list[str],
    groups: list[str] | None = None,
    person: str | None = None,
    api_token: bool = False,
    token_days: int | None = None,
    one_time_password: bool = False,
    enrolment_link: bool = False,
) -> Added:
    """Create an operator with what was asked for: an API token (valid
    ``token_days``), a one-time password (to change at the first sign-in) and/or
    an enrolment link; each returned once. Raises InvalidInput, NotAuthorized."""
    by = _actor(actor)
    operator = operator_records.new_operator(
        name=name, roles=roles, scope=scope, groups=groups, person=person
    )
    now = svc.clock.now()
    expires_at = token_expiry(now, token_days)
    token = issue_token(OPERATOR_PREFIX) if api_token else None
    password = generate_temporary_password() if one_time_password else None
    hashed = None if password is None else operator_passwords.hash_password(password)
    with svc.uow() as uow:
        operator_records.store_operator(
            uow,
            operator,
            token_digest=None if token is None else token.digest,
            token_expires_at=expires_at if token else None,
            actor=by,
            now=now,
        )
        if hashed is not None:
            _set_one_time_password(uow, operator, hashed, by=by, now=now)
        link = (
            operator_links.issue(uow, operator, LinkPurpose.ENROL, actor=by, now=now)
            if enrolment_link
            else None
        )
        uow.commit()
    return Added(
        operator=operator,
        api_token=None if token is None else token.plain,
        one_time_password=password,
        enrolment_link=None if link is None else operator_links.link_url(svc, link),
    )


def disable(svc: Services, actor: Actor, name: str) -> int:
    """Disable the operator: their sessions and unfinished sign-ins end now, their
    API token is refused. Returns how many sessions ended. Raises NotFound,
    NotAuthorized, SelfChangeRefused, InvalidInput (already disabled)."""
    by = _actor(actor)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        _not_self(actor, target, "disable")
        if not uow.operators.set_active(target.id, False):
            raise InvalidInput(f"operator '{target.name}' is already disabled")
        ended = sessions.end_all(uow, target, now=now, reason="operator disabled", actor=by)
        uow.operator_credentials.end_sign_ins_of(target.id, now=now)
        record(uow, EventType.OPERATOR_DISABLED, target, now, actor=by, sessions_ended=ended)
        uow.commit()
    return ended


def enable(svc: Services, actor: Actor, name: str) -> None:
    """Enable a disabled operator. Raises NotFound, NotAuthorized,
    SelfChangeRefused, InvalidInput (already enabled)."""
    by = _actor(actor)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        _not_self(actor, target, "enable")
        if not uow.operators.set_active(target.id, True):
            raise InvalidInput(f"operator '{target.name}' is already enabled")
        record(uow, EventType.OPERATOR_ENABLED, target, now, actor=by)
        uow.commit()


def set_access(
    svc: Services,
    actor: Actor,
    name: str,
    *,
    roles: list[Role],
    scope: list[str],
    groups: list[str] | None = None,
) -> Operator:
    """Replace the operator's roles and scope (and groups when given); return the
    operator as it is now. Raises NotFound, NotAuthorized, SelfChangeRefused,
    InvalidInput."""
    by = _actor(actor)
    if not roles:
        raise InvalidInput("give at least one role", known=[str(r) for r in Role])
    operator_records.check_scope(scope)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        _not_self(actor, target, "change the roles or scope of")
        new_groups = target.groups if groups is None else frozenset(groups)
        changed = Operator(
            id=target.id,
            name=target.name,
            person=target.person,
            roles=frozenset(roles),
            scope=frozenset(scope),
            groups=new_groups,
            active=target.active,
        )
        uow.operators.set_access(
            target.id, roles=changed.roles, scope=changed.scope, groups=changed.groups
        )
        changes: dict[str, object] = {"from": _access(target), "to": _access(changed)}
        record(uow, EventType.OPERATOR_ROLES_CHANGED, target, now, actor=by, data=changes)
        uow.commit()
    return changed


def _access(operator: Operator) -> dict[str, list[str]]:
    return access_data(operator.roles, operator.scope, operator.groups)


def rotate_token(svc: Services, actor: Actor, name: str, *, token_days: int | None = None) -> str:
    """A new API token for the operator (the old one stops at once), valid
    ``token_days`` or until rotated; returned once. Raises NotFound,
    NotAuthorized, InvalidInput."""
    by = _actor(actor)
    return operator_records.rotate_token(svc, name=name, actor=by, token_days=token_days)


def revoke_token(svc: Services, actor: Actor, name: str) -> None:
    """The operator's API token stops working; they keep their console access.
    Raises NotFound, NotAuthorized, InvalidInput (no token to revoke)."""
    by = _actor(actor)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        token = uow.operators.token_of(target.id)
        if token is None or not token[0]:
            raise InvalidInput(f"operator '{target.name}' has no API token")
        uow.operators.set_token_digest(target.name, None)
        record(uow, EventType.OPERATOR_TOKEN_REVOKED, target, now, actor=by)
        uow.commit()


def reset_second_factor(svc: Services, actor: Actor, name: str) -> int:
    """Revoke the operator's second factors (a lost phone or key, R-29): their
    sessions end and the next sign-in enrols a new factor after the password.
    Returns how many factors were revoked. Raises NotFound, NotAuthorized,
    SelfChangeRefused."""
    by = _actor(actor)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        _not_self(actor, target, "reset the second factor of")
        revoked = uow.operator_credentials.revoke_all(target.id, now=now, by=by)
        ended = sessions.end_all(uow, target, now=now, reason="second factor reset", actor=by)
        uow.operator_credentials.end_sign_ins_of(target.id, now=now)
        record(
            uow,
            EventType.OPERATOR_SECOND_FACTOR_RESET,
            target,
            now,
            actor=by,
            factors=[{"id": f.id, "kind": str(f.kind)} for f in revoked],
            sessions_ended=ended,
        )
        uow.commit()
    return len(revoked)


def one_time_password(svc: Services, actor: Actor, name: str) -> str:
    """A new one-time password for the operator (the old password stops working),
    to change at the next sign-in; returned once. Raises NotFound,
    NotAuthorized, SelfChangeRefused."""
    by = _actor(actor)
    password = generate_temporary_password()
    hashed = operator_passwords.hash_password(password)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        _not_self(actor, target, "set a one-time password for")
        _set_one_time_password(uow, target, hashed, by=by, now=now)
        uow.commit()
    return password


def enrolment_link(svc: Services, actor: Actor, name: str) -> str:
    """A new one-time enrolment link for the operator (choose a password, then a
    second factor if none is bound); returned once. Like a one-time password, it
    lifts a sign-in lock. Raises NotFound,
    NotAuthorized, SelfChangeRefused."""
    by = _actor(actor)
    now = svc.clock.now()
    with svc.uow() as uow:
        target = _target(uow, name)
        _not_self(actor, target, "send an enrolment link to")
        token = operator_links.issue(uow, target, LinkPurpose.ENROL, actor=by, now=now)
        _lift_lock(uow, target)
        uow.commit()
    return operator_links.link_url(svc, token)


def _lift_lock(uow: UnitOfWork, operator: Operator) -> None:
    """A new way in from an admin ends the operator's run of sign-in failures
    (and so the lock after 100, R-18); other sources' delays stay."""
    throttles.sign_in_passed(uow, who=throttles.operator_who(operator.id), source=None)


def _set_one_time_password(
    uow: UnitOfWork, operator: Operator, hashed: str, *, by: str, now: datetime
) -> None:
    uow.operator_credentials.set_password(operator.id, hashed, must_change=True, now=now)
    _lift_lock(uow, operator)
    record(
        uow,
        EventType.OPERATOR_PASSWORD_SET,
        operator,
        now,
        actor=by,
        one_time=True,
        set_at=utc(now),
    )
