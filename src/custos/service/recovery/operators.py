"""Operators and their API tokens: a token is printed once and stored as a
digest; it may have a lifetime (refused once expired) and may be revoked.
Administration beyond creating operators and tokens lives in
``custos.service.console.operator_admin``."""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime

from custos.credentials.tokens import OPERATOR_PREFIX, issue_token, looks_like_token, token_digest
from custos.domain.errors import InvalidInput, NotAuthorized, NotFound
from custos.domain.events import DomainEvent, EventType, utc
from custos.domain.model import Operator, Role
from custos.domain.operator_accounts import token_expiry
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def new_operator(
    *,
    name: str,
    roles: list[Role],
    scope: list[str],
    groups: list[str] | None = None,
    person: str | None = None,
) -> Operator:
    """A valid operator record, not stored yet. Raises InvalidInput."""
    if not NAME.match(name):
        raise InvalidInput("an operator name is 1-100 letters, digits, '.', '_', '@' or '-'")
    if not roles:
        raise InvalidInput("give at least one role", known=[str(r) for r in Role])
    check_scope(scope)
    return Operator(
        id=f"op-{secrets.token_hex(6)}",
        name=name,
        person=(person or name).strip()[:200] or name,
        roles=frozenset(roles),
        scope=frozenset(scope),
        groups=frozenset(groups or []),
    )


def check_scope(scope: list[str]) -> None:
    """Raises InvalidInput for an empty scope or a malformed group name."""
    if not scope:
        raise InvalidInput("give at least one scope group ('*' for every subject)")
    for group in scope:
        if group != "*" and not NAME.match(group):
            raise InvalidInput(f"'{group[:100]}' is not a group name ('*' for every subject)")


def store_operator(
    uow: UnitOfWork,
    operator: Operator,
    *,
    token_digest: str | None,
    token_expires_at: datetime | None,
    actor: str,
    now: datetime,
) -> None:
    """Insert ``operator`` and its ledger event in the caller's transaction.
    Raises InvalidInput when the name or person is taken."""
    if uow.operators.exists(operator.name, operator.person):
        raise InvalidInput(
            f"an operator named '{operator.name}' (or for that person) already exists"
        )
    uow.operators.add(
        operator, token_digest=token_digest, now=now, token_expires_at=token_expires_at
    )
    uow.ledger.append(
        [
            DomainEvent(
                type=EventType.OPERATOR_CREATED,
                occurred_at=now,
                actor=actor,
                subject_id=None,
                case_id=None,
                data={
                    "operator": operator.id,
                    "name": operator.name,
                    "roles": sorted(str(r) for r in operator.roles),
                    "scope": sorted(operator.scope),
                    "groups": sorted(operator.groups),
                    "api_token": token_digest is not None,
                },
            )
        ]
    )


def add_operator(
    svc: Services,
    *,
    name: str,
    roles: list[Role],
    scope: list[str],
    groups: list[str] | None = None,
    person: str | None = None,
    actor: str = "cli:local",
    token_days: int | None = None,
) -> tuple[Operator, str]:
    """Create an operator; return it with its API token (the only time the token
    exists in clear), valid ``token_days`` days or, when None, until rotated.
    Raises InvalidInput for a bad or taken name/person or lifetime."""
    operator = new_operator(name=name, roles=roles, scope=scope, groups=groups, person=person)
    token = issue_token(OPERATOR_PREFIX)
    now = svc.clock.now()
    expires_at = token_expiry(now, token_days)
    with svc.uow() as uow:
        store_operator(
            uow,
            operator,
            token_digest=token.digest,
            token_expires_at=expires_at,
            actor=actor,
            now=now,
        )
        uow.commit()
    return operator, token.plain


def rotate_token(
    svc: Services, *, name: str, actor: str = "cli:local", token_days: int | None = None
) -> str:
    """Give operator ``name`` a new API token (the old one stops working at once),
    valid ``token_days`` days or, when None, until rotated; return it. Raises
    NotFound, InvalidInput for a bad lifetime."""
    token = issue_token(OPERATOR_PREFIX)
    now = svc.clock.now()
    expires_at = token_expiry(now, token_days)
    with svc.uow() as uow:
        if not uow.operators.set_token_digest(name, token.digest, expires_at=expires_at):
            raise NotFound(f"no operator named '{name}'")
        data: dict[str, object] = {"name": name}
        if expires_at is not None:
            data["expires_at"] = utc(expires_at)
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.OPERATOR_TOKEN_ROTATED,
                    occurred_at=now,
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data=data,
                )
            ]
        )
        uow.commit()
    return token.plain


def authenticate(svc: Services, token: str) -> Operator:
    """The active operator holding ``token``, if it has not expired. Raises
    NotAuthorized (one message for a malformed, unknown, expired, revoked or
    disabled operator's token)."""
    failure = NotAuthorized("missing or invalid operator token")
    if not looks_like_token(token, prefix=OPERATOR_PREFIX):
        raise failure
    digest = token_digest(token)
    with svc.uow() as uow:
        found = uow.operators.by_token_digest(digest)
    if found is None:
        raise failure
    operator, stored, expires_at = found
    if not hmac.compare_digest(stored, digest) or not operator.active:
        raise failure
    if expires_at is not None and svc.clock.now() >= expires_at:
        raise failure
    return operator
