"""Who an SSO identity is in Custos: the operator named by the username claim.

An active operator with that name is signed in, its roles, scope and groups set
to what the role mapping gives (a ledger event when they change); none with
that name: one is created just in time with the mapped access (ledger event
``admin:operator:created`` with ``source: oidc``). A disabled operator is refused,
and so is a person whom no rule gives a role. The operator's groups are the
mapping's groups the person is in, so a policy's ``approvals.from_groups`` can
name them.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from custos.domain.events import EventType
from custos.domain.model import Operator
from custos.service.console.operator_ledger import access_data, record
from custos.service.ports import Services
from custos.service.recovery.operators import NAME
from custos.sso.errors import ClaimsInvalid, NoRoleMapped, OperatorConflict, OperatorDisabled
from custos.sso.relying_party import SsoIdentity
from custos.sso.role_mapping import MappedAccess, map_groups
from custos.store.unit_of_work import UnitOfWork

#: The actor of the changes single sign-on makes on the provider's word.
ACTOR = "system:oidc"


def admit(svc: Services, identity: SsoIdentity) -> Operator:
    """The operator ``identity`` signs in as, created or updated. Raises
    ClaimsInvalid, NoRoleMapped, OperatorDisabled or OperatorConflict."""
    assert svc.sso is not None
    if not NAME.match(identity.username):
        raise ClaimsInvalid(
            f"the provider's '{svc.sso.config.username_claim}' is not a usable operator name "
            "(1-100 letters, digits, '.', '_', '@' or '-')"
        )
    access = map_groups(svc.sso.config.role_mapping, identity.groups)
    try:
        return _admit(svc, identity, access)
    except IntegrityError:
        # Two first sign-ins of one person raced; the other created the operator.
        return _admit(svc, identity, access)


def _admit(svc: Services, identity: SsoIdentity, access: MappedAccess) -> Operator:
    now = svc.clock.now()
    with svc.uow() as uow:
        operator = uow.operators.by_name(identity.username)
        if operator is not None and not operator.active:
            raise OperatorDisabled(
                f"the operator '{operator.name}' is disabled: ask an administrator"
            )
        if access.empty:
            raise NoRoleMapped(
                "you signed in at the identity provider, but none of your groups gives "
                "a role in Custos: ask an administrator to add you to a mapped group"
            )
        if operator is None:
            operator = _create(uow, identity, access, now=now)
        else:
            operator = _update(uow, operator, identity, access, now=now)
        uow.commit()
    return operator


def _create(
    uow: UnitOfWork, identity: SsoIdentity, access: MappedAccess, *, now: datetime
) -> Operator:
    name = identity.username
    if uow.operators.exists(name, name):
        raise OperatorConflict(
            f"an operator for the person '{name}' exists under another name: ask an administrator"
        )
    operator = Operator(
        id=f"op-{secrets.token_hex(6)}",
        name=name,
        person=name,
        roles=access.roles,
        scope=access.scope,
        groups=access.matched_groups,
    )
    # No API token: an SSO operator asks an administrator for one like any other.
    uow.operators.add(operator, token_digest=None, now=now)
    record(
        uow,
        EventType.OPERATOR_CREATED,
        operator,
        now,
        actor=ACTOR,
        data={
            **access_data(operator.roles, operator.scope, operator.groups),
            "source": "oidc",
            "issuer": identity.issuer,
        },
    )
    return operator


def _update(
    uow: UnitOfWork,
    operator: Operator,
    identity: SsoIdentity,
    access: MappedAccess,
    *,
    now: datetime,
) -> Operator:
    before = (operator.roles, operator.scope, operator.groups)
    after = (access.roles, access.scope, access.matched_groups)
    if before == after:
        return operator
    uow.operators.set_access(
        operator.id, roles=access.roles, scope=access.scope, groups=access.matched_groups
    )
    record(
        uow,
        EventType.OPERATOR_ROLES_CHANGED,
        operator,
        now,
        actor=ACTOR,
        data={
            "from": access_data(*before),
            "to": access_data(*after),
            "source": "oidc",
            "issuer": identity.issuer,
        },
    )
    return replace(operator, roles=access.roles, scope=access.scope, groups=access.matched_groups)
