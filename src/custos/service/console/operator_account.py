"""An operator's own account ("My account", docs/console.md#my-account): what they
hold, and changing their password behind a full re-authentication (R-27): the
current password and a second factor in the same request. Attempts are counted
like sign-ins (R-18); a change ends every console session of the operator, the
page then opens a new one (R-26)."""

from __future__ import annotations

from typing import Any, Final

from custos.credentials.tokens import looks_like_token, token_digest
from custos.domain.errors import InvalidInput, NotAuthorized
from custos.domain.events import EventType, Outcome
from custos.domain.model import Operator
from custos.domain.operator_accounts import FactorKind, SignInStage
from custos.oversight.refusals import RefusalKind
from custos.service.console import operator_factors, operator_passwords, operator_sign_in, sessions
from custos.service.console.operator_ledger import record
from custos.service.oversight import refusals
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork

REAUTHENTICATION: Final = "reauthentication"
REAUTH_FAILED: Final = "the current password or the second factor is wrong"


def begin_key_reauthentication(svc: Services, operator: Operator) -> tuple[str, dict[str, Any]]:
    """Request options for re-authenticating with a security key, and the handle
    (kept 10 minutes, used once) the answer must come back with."""
    now = svc.clock.now()
    with svc.uow() as uow:
        if FactorKind.WEBAUTHN not in operator_factors.methods(uow, operator.id):
            raise InvalidInput("you have no security key")
        handle = operator_sign_in.start(
            uow, operator, SignInStage.SECOND_FACTOR, method=REAUTHENTICATION, now=now
        )
        found = uow.operator_credentials.sign_in(token_digest(handle))
        assert found is not None
        options = operator_factors.key_assertion_options(svc, uow, operator, found.id)
        uow.commit()
    return handle, options


def change_password(
    svc: Services,
    operator: Operator,
    *,
    current: str,
    new: str,
    method: str | None,
    response: str,
    handle: str | None,
    source: str | None,
) -> int:
    """Set a new password after checking the current one and a second factor;
    every console session of the operator ends (returned: how many). Raises
    PasswordRejected (nothing counted), NotAuthorized (one message whatever was
    wrong), Throttled, InvalidInput."""
    now = svc.clock.now()
    who = throttles.operator_who(operator.id)
    with svc.uow() as uow:
        stored = uow.operator_credentials.password(operator.id)
        factors = operator_factors.methods(uow, operator.id)
    if stored is None:
        raise InvalidInput(
            "this account has no console password: ask an admin for an enrolment link"
        )
    kind = operator_sign_in.chosen_factor(factors, method or "") if factors else None
    operator_passwords.check_rules(operator, new)
    with operator_sign_in.throttle_recorded(svc, operator.actor), svc.uow() as uow:
        operator_sign_in.reserve(uow, who, source, now, names_account=False)
        uow.commit()
    matches = operator_passwords.verify(stored.hash, current)
    with svc.uow() as uow:
        passed = matches and (
            kind is None or _second_factor(svc, uow, operator, kind, response, handle)
        )
        if not passed:
            refusals.count_in_window(
                svc, uow, actor=operator.actor, kind=RefusalKind.SIGN_IN, now=now
            )
            record(
                uow,
                EventType.OPERATOR_SIGN_IN_FAILED,
                operator,
                now,
                actor=operator.actor,
                outcome=Outcome.FAILURE,
                step=REAUTHENTICATION,
            )
            uow.commit()
            raise NotAuthorized(REAUTH_FAILED)
        uow.commit()
    hashed = operator_passwords.hash_password(new)
    with svc.uow() as uow:
        uow.operator_credentials.set_password(operator.id, hashed, must_change=False, now=now)
        record(uow, EventType.OPERATOR_PASSWORD_SET, operator, now, actor=operator.actor)
        throttles.sign_in_passed(uow, who=who, source=source)
        ended = sessions.end_all(
            uow, operator, now=now, reason="password changed", actor=operator.actor
        )
        uow.commit()
    return ended


def _second_factor(
    svc: Services,
    uow: UnitOfWork,
    operator: Operator,
    kind: FactorKind,
    response: str,
    handle: str | None,
) -> bool:
    now = svc.clock.now()
    if kind == FactorKind.TOTP:
        return operator_factors.check_totp(svc, uow, operator, response.strip(), now)
    if handle is None or not looks_like_token(handle, prefix=operator_sign_in.PENDING_PREFIX):
        return False
    found = uow.operator_credentials.sign_in(token_digest(handle))
    if (
        found is None
        or found.operator_id != operator.id
        or found.method != REAUTHENTICATION
        or not found.live(now)
    ):
        return False
    passed = operator_factors.check_key(svc, uow, operator, found.id, response, now)
    return uow.operator_credentials.end_sign_in(found.id, now=now) and passed
