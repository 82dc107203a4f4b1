"""Operator administration: an API token is printed once and stored as a digest."""

from __future__ import annotations

import hmac
import re
import secrets

from custos.credentials.tokens import OPERATOR_PREFIX, issue_token, looks_like_token, token_digest
from custos.domain.errors import InvalidInput, NotAuthorized, NotFound
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Operator, Role
from custos.service.ports import Services

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def add_operator(
    svc: Services,
    *,
    name: str,
    roles: list[Role],
    scope: list[str],
    groups: list[str] | None = None,
    person: str | None = None,
    actor: str = "cli:local",
) -> tuple[Operator, str]:
    """Create an operator; return it with its API token (the only time the token
    exists in clear). Raises InvalidInput for a bad or taken name/person."""
    if not NAME.match(name):
        raise InvalidInput("an operator name is 1-100 letters, digits, '.', '_', '@' or '-'")
    if not roles:
        raise InvalidInput("give at least one role", known=[str(r) for r in Role])
    if not scope:
        raise InvalidInput("give at least one scope group ('*' for every subject)")
    operator = Operator(
        id=f"op-{secrets.token_hex(6)}",
        name=name,
        person=person or name,
        roles=frozenset(roles),
        scope=frozenset(scope),
        groups=frozenset(groups or []),
    )
    token = issue_token(OPERATOR_PREFIX)
    now = svc.clock.now()
    with svc.uow() as uow:
        if uow.operators.exists(operator.name, operator.person):
            raise InvalidInput(f"an operator named '{name}' (or for that person) already exists")
        uow.operators.add(operator, token_digest=token.digest, now=now)
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
                        "name": name,
                        "roles": sorted(str(r) for r in roles),
                        "scope": sorted(scope),
                        "groups": sorted(groups or []),
                    },
                )
            ]
        )
        uow.commit()
    return operator, token.plain


def rotate_token(svc: Services, *, name: str, actor: str = "cli:local") -> str:
    """Give operator ``name`` a new API token (the old one stops working at once);
    return it. Raises NotFound."""
    token = issue_token(OPERATOR_PREFIX)
    now = svc.clock.now()
    with svc.uow() as uow:
        if not uow.operators.set_token_digest(name, token.digest):
            raise NotFound(f"no operator named '{name}'")
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.OPERATOR_TOKEN_ROTATED,
                    occurred_at=now,
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data={"name": name},
                )
            ]
        )
        uow.commit()
    return token.plain


def authenticate(svc: Services, token: str) -> Operator:
    """The active operator holding ``token``. Raises NotAuthorized (one message
    for a malformed, unknown or disabled token)."""
    failure = NotAuthorized("missing or invalid operator token")
    if not looks_like_token(token, prefix=OPERATOR_PREFIX):
        raise failure
    digest = token_digest(token)
    with svc.uow() as uow:
        found = uow.operators.by_token_digest(digest)
    if found is None:
        raise failure
    operator, stored = found
    if not hmac.compare_digest(stored, digest) or not operator.active:
        raise failure
    return operator
