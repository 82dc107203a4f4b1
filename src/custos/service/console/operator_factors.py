"""Operators' second factors: TOTP (RFC 6238, ``proofing/totp``; the secret sealed
like subjects') and WebAuthn security keys (``proofing/webauthn``, the relying
party and user handle of the subjects' ceremonies). A challenge or a TOTP secret
being enrolled is kept on the pending sign-in it belongs to, answered once.

Every function runs in the caller's unit of work; none raises for a wrong
answer: it returns False or None, the caller counts and audits the failure."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import structlog

from custos.credentials import seal_contexts
from custos.domain.model import Operator
from custos.domain.operator_accounts import FactorKind, OperatorFactor
from custos.proofing import totp
from custos.proofing import webauthn as wa
from custos.service.ceremonies.webauthn_ceremonies import relying_party, user_handle
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.console")

ISSUER: Final = "Custos console"
MAX_LABEL: Final = 100


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """Shown once, on the enrolment page: the secret and its otpauth URI."""

    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)


def methods(uow: UnitOfWork, operator_id: str) -> tuple[FactorKind, ...]:
    """The kinds of second factor the operator has bound, the security key first."""
    kinds = {f.kind for f in uow.operator_credentials.factors(operator_id)}
    return tuple(k for k in (FactorKind.WEBAUTHN, FactorKind.TOTP) if k in kinds)


def begin_totp(
    svc: Services, uow: UnitOfWork, operator: Operator, sign_in_id: int
) -> TotpEnrolment:
    """The TOTP secret to enrol, sealed on the pending sign-in until a first code
    confirms it: new at the first call, the same again for this sign-in (a
    mistyped code does not make the operator scan anew)."""
    sealed = uow.operator_credentials.pending_totp(sign_in_id)
    if sealed is None:
        secret = totp.new_totp_secret()
        uow.operator_credentials.set_pending_totp(
            sign_in_id,
            svc.sealer.seal(secret, aad=seal_contexts.operator_pending_totp(operator.id)),
        )
    else:
        secret = svc.sealer.unseal(sealed, aad=seal_contexts.operator_pending_totp(operator.id))
    return TotpEnrolment(secret, totp.provisioning_uri(secret, operator.name, issuer=ISSUER))


def confirm_totp(
    svc: Services,
    uow: UnitOfWork,
    operator: Operator,
    sign_in_id: int,
    code: str,
    now: datetime,
) -> OperatorFactor | None:
    """Bind the pending secret when ``code`` matches it (the code is then used up);
    None otherwise."""
    sealed = uow.operator_credentials.pending_totp(sign_in_id)
    if sealed is None:
        return None
    secret = svc.sealer.unseal(sealed, aad=seal_contexts.operator_pending_totp(operator.id))
    step = totp.verify_totp(secret, code, now=now, last_used_step=None)
    if step is None:
        return None
    return uow.operator_credentials.add_totp(
        operator.id,
        svc.sealer.seal(secret, aad=seal_contexts.operator_totp(operator.id)),
        step=step,
        label="authenticator app",
        now=now,
    )


def check_totp(
    svc: Services, uow: UnitOfWork, operator: Operator, code: str, now: datetime
) -> bool:
    """Whether ``code`` is a fresh code of one of the operator's TOTP secrets; the
    step is used up (a code works once)."""
    for stored in uow.operator_credentials.totps(operator.id):
        secret = svc.sealer.unseal(
            stored.sealed_secret, aad=seal_contexts.operator_totp(operator.id)
        )
        step = totp.verify_totp(secret, code, now=now, last_used_step=stored.last_step)
        if step is not None and uow.operator_credentials.use_totp_step(
            stored.factor_id, step, now=now
        ):
            return True
    return False


def _handle(svc: Services, operator: Operator) -> bytes:
    return user_handle(svc, f"operator:{operator.id}")


def key_registration_options(
    svc: Services, uow: UnitOfWork, operator: Operator, sign_in_id: int
) -> dict[str, Any]:
    """Creation options (user verification required), the challenge kept on the sign-in."""
    options = wa.registration_options(
        relying_party(svc),
        user_handle=_handle(svc, operator),
        user_name=operator.name,
        display_name=operator.person,
        exclude=[k.credential_id for k in uow.operator_credentials.keys(operator.id)],
        require_uv=True,
    )
    uow.operator_credentials.set_challenge(sign_in_id, wa.b64(options.challenge))
    return options.json


def finish_key_registration(
    svc: Services,
    uow: UnitOfWork,
    operator: Operator,
    sign_in_id: int,
    *,
    response: str,
    label: str,
    now: datetime,
) -> OperatorFactor | None:
    """Verify the creation response against the sign-in's challenge (used up either
    way) and bind the key; None when it does not verify."""
    try:
        data = wa.parse_response(response)
        _take_challenge(uow, sign_in_id, data)
        stored = wa.unb64(wa.challenge_of(data))
        new = wa.verify_registration(relying_party(svc), data, challenge=stored, require_uv=True)
        if uow.operator_credentials.credential_exists(new.credential_id):
            raise wa.WebAuthnRejected("this credential is already registered")
    except wa.WebAuthnRejected as exc:
        log.info("operator_key_rejected", operator=operator.id, step="register", reason=str(exc))
        return None
    return uow.operator_credentials.add_key(
        operator.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        label=label.strip()[:MAX_LABEL] or "security key",
        now=now,
    )


def key_assertion_options(
    svc: Services, uow: UnitOfWork, operator: Operator, sign_in_id: int
) -> dict[str, Any]:
    """Request options listing the operator's keys, the challenge kept on the sign-in."""
    options = wa.authentication_options(
        relying_party(svc),
        allow=[k.credential_id for k in uow.operator_credentials.keys(operator.id)],
        require_uv=True,
    )
    uow.operator_credentials.set_challenge(sign_in_id, wa.b64(options.challenge))
    return options.json


def check_key(
    svc: Services,
    uow: UnitOfWork,
    operator: Operator,
    sign_in_id: int,
    response: str,
    now: datetime,
) -> bool:
    """Whether ``response`` is an assertion of one of the operator's keys over the
    sign-in's challenge (used up either way); the key's counter moves on."""
    try:
        data = wa.parse_response(response)
        _take_challenge(uow, sign_in_id, data)
        key = next(
            (
                k
                for k in uow.operator_credentials.keys(operator.id)
                if k.credential_id == data["id"]
            ),
            None,
        )
        if key is None:
            raise wa.WebAuthnRejected("unknown credential")
        result = wa.verify_assertion(
            relying_party(svc),
            data,
            challenge=wa.unb64(wa.challenge_of(data)),
            public_key=key.public_key,
            sign_count=key.sign_count,
            require_uv=True,
        )
        if not uow.operator_credentials.advance_counter(
            key.factor_id, seen=key.sign_count, new=result.new_sign_count, now=now
        ):
            raise wa.WebAuthnRejected("signature counter moved meanwhile")
    except wa.WebAuthnRejected as exc:
        log.info("operator_key_rejected", operator=operator.id, step="assert", reason=str(exc))
        return False
    return True


def check(
    svc: Services,
    uow: UnitOfWork,
    operator: Operator,
    *,
    method: FactorKind,
    response: str,
    sign_in_id: int,
    now: datetime,
) -> bool:
    """One second-factor answer of ``method`` checked."""
    if method == FactorKind.WEBAUTHN:
        return check_key(svc, uow, operator, sign_in_id, response, now)
    return check_totp(svc, uow, operator, response.strip(), now)


def _take_challenge(uow: UnitOfWork, sign_in_id: int, data: dict[str, Any]) -> None:
    """Consume the sign-in's challenge; raises WebAuthnRejected unless ``data``
    answers exactly it."""
    stored = uow.operator_credentials.take_challenge(sign_in_id)
    answered = wa.challenge_of(data)
    if stored is None or not hmac.compare_digest(stored.encode(), answered.encode()):
        raise wa.WebAuthnRejected("unknown, used, expired or foreign challenge")
