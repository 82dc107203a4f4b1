"""Second factors at sign-in and re-authentication: TOTP, WebAuthn, or a saved
recovery code (R-12, R-15, R-27, R-28). Each check consumes what is single use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.credentials import seal_contexts
from custos.domain.enrolment import AuthenticatorKind
from custos.domain.model import ContactKind, Subject
from custos.notify import enrolment_messages
from custos.proofing import recovery_code, totp
from custos.service.ceremonies import webauthn_ceremonies
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class FactorResult:
    passed: bool
    replacement_code: str | None = None


def verify(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    kind: AuthenticatorKind,
    response: str,
    session_id: int,
    now: datetime,
) -> FactorResult:
    """Check ``response`` for the bound authenticator of ``kind``; never raises for
    a wrong answer. A used saved code is replaced (R-12); the new one is returned."""
    if kind == AuthenticatorKind.WEBAUTHN:
        return FactorResult(
            webauthn_ceremonies.check_assertion(
                svc,
                uow,
                subject=subject,
                purpose=webauthn_ceremonies.SIGN_IN,
                response=response,
                now=now,
                session_id=session_id,
            )
        )
    if kind == AuthenticatorKind.TOTP:
        return FactorResult(_totp(svc, uow, subject.id, response.strip(), now))
    return _recovery_code(svc, uow, subject, response.strip(), now)


def _totp(svc: Services, uow: UnitOfWork, subject_id: str, code: str, now: datetime) -> bool:
    enrolled = uow.enrolments.totp(subject_id)
    if enrolled is None:
        return False
    sealed, last_step = enrolled
    secret = svc.sealer.unseal(sealed, aad=seal_contexts.subject_totp(subject_id))
    step = totp.verify_totp(secret, code, now=now, last_used_step=last_step)
    if step is None or not uow.enrolments.mark_totp_step(subject_id, step):
        return False
    uow.authenticators.touch_kind(subject_id, AuthenticatorKind.TOTP, now=now)
    return True


def _recovery_code(
    svc: Services, uow: UnitOfWork, subject: Subject, text: str, now: datetime
) -> FactorResult:
    subject_id = subject.id
    parsed = recovery_code.parse_code(text)
    stored = uow.enrolments.unused_recovery_code(subject_id, parsed[0]) if parsed else None
    if stored is None:
        recovery_code.dummy_verify()
        return FactorResult(False)
    code_id, code_hash = stored
    if not recovery_code.verify_code(text, code_hash) or not uow.enrolments.use_recovery_code(
        code_id, now=now
    ):
        return FactorResult(False)
    fresh = recovery_code.generate_codes(1, taken_ids=uow.enrolments.unused_lookup_ids(subject_id))[
        0
    ]
    uow.enrolments.add_recovery_code(subject_id, fresh.lookup_id, fresh.hash, now=now)
    uow.authenticators.touch_kind(subject_id, AuthenticatorKind.RECOVERY_CODES, now=now)
    # a used code is replaced AND the subject is told, on every address.
    remaining = uow.enrolments.remaining_recovery_codes(subject_id)
    notices.queue(
        svc,
        uow,
        [
            enrolment_messages.sign_in_code_used(
                to=c.address, display_name=subject.display_name, at=now, remaining=remaining
            )
            for c in subject.confirmed_contacts(ContactKind.EMAIL)
        ],
        subject_id=subject_id,
    )
    return FactorResult(True, fresh.plain)
