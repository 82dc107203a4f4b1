"""WebAuthn ceremonies with their storage: challenges single use, five minutes,
bound to a subject session (purposes ``register``, ``sign_in``) or to a case
(``case``); credentials' public keys and signature counters kept per
authenticator. The RP id and origin come from ``public_origin`` (R-17 spirit:
never from a request header)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import structlog

from custos.domain.enrolment import Authenticator, AuthenticatorKind
from custos.domain.model import Subject
from custos.proofing import webauthn as wa
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.webauthn")

REGISTER = "register"
SIGN_IN = "sign_in"
CASE = "case"


def relying_party(svc: Services) -> wa.RelyingParty:
    return wa.RelyingParty.from_origin(svc.settings.public_origin)


def user_handle(svc: Services, subject_id: str) -> bytes:
    """A stable, opaque user handle (no personal data in the authenticator)."""
    return hmac.new(svc.mac_key, f"webauthn-user:{subject_id}".encode(), hashlib.sha256).digest()


def begin_registration(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    session_id: int,
    require_uv: bool,
    now: datetime,
) -> dict[str, Any]:
    """Creation options for a new credential, the challenge bound to the session."""
    options = wa.registration_options(
        relying_party(svc),
        user_handle=user_handle(svc, subject.id),
        user_name=subject.id,
        display_name=subject.display_name,
        exclude=[c.credential_id for c in uow.authenticators.credentials(subject.id)],
        require_uv=require_uv,
    )
    _store(uow, options, REGISTER, subject.id, require_uv, now, session_id=session_id)
    return options.json


def finish_registration(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    session_id: int,
    response: str,
    label: str,
    by: str,
    now: datetime,
) -> Authenticator:
    """Verify the creation response and bind the credential. Raises WebAuthnRejected."""
    data = wa.parse_response(response)
    stored = uow.authenticators.take_challenge(
        wa.challenge_of(data), purpose=REGISTER, now=now, session_id=session_id
    )
    if stored is None or stored.subject_id != subject.id:
        raise wa.WebAuthnRejected("unknown, used, expired or foreign challenge")
    new = wa.verify_registration(
        relying_party(svc),
        data,
        challenge=wa.unb64(stored.challenge),
        require_uv=stored.user_verification,
    )
    if uow.authenticators.credential_exists(new.credential_id):
        raise wa.WebAuthnRejected("this credential is already registered")
    bound = uow.authenticators.bind(
        subject.id, AuthenticatorKind.WEBAUTHN, label=label or "security key", by=by, now=now
    )
    uow.authenticators.add_credential(
        bound.id,
        subject.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        user_verified=new.user_verified,
    )
    return bound


def begin_assertion(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    purpose: str,
    require_uv: bool,
    now: datetime,
    session_id: int | None = None,
    case_id: str | None = None,
) -> dict[str, Any]:
    """Request options listing the subject's active credentials."""
    options = wa.authentication_options(
        relying_party(svc),
        allow=[c.credential_id for c in uow.authenticators.credentials(subject.id)],
        require_uv=require_uv,
    )
    _store(
        uow, options, purpose, subject.id, require_uv, now, session_id=session_id, case_id=case_id
    )
    return options.json


def decoy_options(svc: Services, seed: str) -> dict[str, Any]:
    """Options shaped like a real subject's, for requests with no subject behind
    them (R-19): one credential id derived from ``seed``, stable per request."""
    fake = hmac.new(svc.mac_key, f"webauthn-decoy:{seed}".encode(), hashlib.sha256).digest()
    options = wa.authentication_options(relying_party(svc), allow=[wa.b64(fake)], require_uv=False)
    return options.json


def finish_assertion(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    purpose: str,
    response: str,
    now: datetime,
    session_id: int | None = None,
    case_id: str | None = None,
) -> wa.Assertion:
    """Verify an assertion against the challenge of this session or case and the
    subject's credential; store the new counter. Raises WebAuthnRejected (the
    challenge is consumed even then: a challenge is answered once)."""
    data = wa.parse_response(response)
    stored = uow.authenticators.take_challenge(
        wa.challenge_of(data), purpose=purpose, now=now, session_id=session_id, case_id=case_id
    )
    if stored is None or stored.subject_id != subject.id:
        raise wa.WebAuthnRejected("unknown, used, expired or foreign challenge")
    credential = next(
        (c for c in uow.authenticators.credentials(subject.id) if c.credential_id == data["id"]),
        None,
    )
    if credential is None:
        raise wa.WebAuthnRejected("unknown credential")
    result = wa.verify_assertion(
        relying_party(svc),
        data,
        challenge=wa.unb64(stored.challenge),
        public_key=credential.public_key,
        sign_count=credential.sign_count,
        require_uv=stored.user_verification,
    )
    if not uow.authenticators.advance_counter(
        credential.authenticator_id, seen=credential.sign_count, new=result.new_sign_count
    ):
        raise wa.WebAuthnRejected("signature counter moved meanwhile")
    uow.authenticators.touch(credential.authenticator_id, now=now)
    return result


def check_assertion(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    purpose: str,
    response: str,
    now: datetime,
    session_id: int | None = None,
    case_id: str | None = None,
) -> bool:
    """:func:`finish_assertion` as a verdict; the reason of a refusal is logged."""
    try:
        finish_assertion(
            svc,
            uow,
            subject=subject,
            purpose=purpose,
            response=response,
            now=now,
            session_id=session_id,
            case_id=case_id,
        )
    except wa.WebAuthnRejected as exc:
        log.info("webauthn_rejected", subject=subject.id, purpose=purpose, reason=str(exc))
        return False
    return True


def _store(
    uow: UnitOfWork,
    options: wa.Options,
    purpose: str,
    subject_id: str,
    require_uv: bool,
    now: datetime,
    *,
    session_id: int | None = None,
    case_id: str | None = None,
) -> None:
    uow.authenticators.add_challenge(
        wa.b64(options.challenge),
        purpose=purpose,
        subject_id=subject_id,
        session_id=session_id,
        case_id=case_id,
        user_verification=require_uv,
        now=now,
        expires_at=now + wa.CHALLENGE_TTL,
    )
