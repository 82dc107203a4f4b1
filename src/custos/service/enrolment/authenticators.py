"""Subjects enrol their own recovery and sign-in methods (R-27, R-28, R-36, R-45,
R-46): TOTP (secret shown once, bound by its first code), WebAuthn, saved
recovery codes (shown once). Every command needs a fresh re-authentication at
the binding level; there is no operator path: agents never bind a factor for a
subject (R-45). Each bind or revoke keeps a history row and a ledger event
``enrolment:<kind>:bound|revoked``, and binding is announced by email (R-22).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from custos.credentials import seal_contexts
from custos.domain.enrolment import Authenticator, AuthenticatorKind
from custos.domain.errors import InvalidInput, NotFound, ProofingFailed
from custos.domain.events import EventType
from custos.domain.model import subject_actor
from custos.proofing import recovery_code, totp
from custos.proofing.webauthn import WebAuthnRejected
from custos.service.ceremonies import webauthn_ceremonies
from custos.service.enrolment import subject_sessions
from custos.service.enrolment.self_management import (
    announce_binding,
    record,
    require_binding_level,
    require_fresh,
)
from custos.service.ports import Services

PENDING_TOTP_TTL: Final = timedelta(minutes=10)
RECOVERY_CODE_COUNT: Final = 10
MAX_LABEL: Final = 100
BOUND: Final = {
    AuthenticatorKind.TOTP: EventType.TOTP_BOUND,
    AuthenticatorKind.WEBAUTHN: EventType.WEBAUTHN_BOUND,
    AuthenticatorKind.RECOVERY_CODES: EventType.RECOVERY_CODES_BOUND,
}
REVOKED: Final = {
    AuthenticatorKind.TOTP: EventType.TOTP_REVOKED,
    AuthenticatorKind.WEBAUTHN: EventType.WEBAUTHN_REVOKED,
    AuthenticatorKind.RECOVERY_CODES: EventType.RECOVERY_CODES_REVOKED,
}


@dataclass(frozen=True, slots=True)
class PendingTotp:
    """Shown once: the otpauth URI holds the secret."""

    pending_id: int
    otpauth_uri: str


def methods(svc: Services, *, token: str) -> list[Authenticator]:
    """Every authenticator the subject ever bound, with its lifecycle (R-36)."""
    ctx = subject_sessions.current(svc, token)
    with svc.uow() as uow:
        return uow.authenticators.history(ctx.subject.id)


def begin_totp(svc: Services, *, token: str) -> PendingTotp:
    """A new TOTP secret, sealed and bound to this session for ten minutes; it
    replaces the current one only once a first code confirms it."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    with svc.uow() as uow:
        require_binding_level(uow, ctx, AuthenticatorKind.TOTP, now)
        secret = totp.new_totp_secret()
        pending_id = uow.authenticators.add_pending_totp(
            ctx.subject.id,
            ctx.session.id,
            svc.sealer.seal(secret, aad=seal_contexts.subject_pending_totp(ctx.subject.id)),
            now=now,
            expires_at=now + PENDING_TOTP_TTL,
        )
        uow.commit()
    return PendingTotp(pending_id, totp.provisioning_uri(secret, ctx.subject.id))


def confirm_totp(svc: Services, *, token: str, pending_id: int, code: str) -> Authenticator:
    """Bind the pending secret if ``code`` matches it (the old TOTP is revoked
    as replaced). Raises ProofingFailed, ReauthenticationRequired."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    subject = ctx.subject
    with svc.uow() as uow:
        require_binding_level(uow, ctx, AuthenticatorKind.TOTP, now)
        sealed = uow.authenticators.pending_totp(
            pending_id, subject_id=subject.id, session_id=ctx.session.id, now=now
        )
        secret = (
            None
            if sealed is None
            else svc.sealer.unseal(sealed, aad=seal_contexts.subject_pending_totp(subject.id))
        )
        step = (
            None if secret is None else totp.verify_totp(secret, code, now=now, last_used_step=None)
        )
        if (
            secret is None
            or step is None
            or not uow.authenticators.consume_pending_totp(pending_id, now=now)
        ):
            raise ProofingFailed("the code does not match the new authenticator")
        replaced = uow.authenticators.active(subject.id, AuthenticatorKind.TOTP)
        bound = uow.enrolments.set_totp(
            subject.id,
            svc.sealer.seal(secret, aad=seal_contexts.subject_totp(subject.id)),
            now=now,
            by=subject_actor(subject.id),
        )
        uow.enrolments.mark_totp_step(subject.id, step)  # the confirming code is used up
        for old in replaced:
            record(
                uow,
                REVOKED[old.kind],
                subject.id,
                now,
                data={"authenticator": old.id},
                reason="replaced",
            )
        _bound(svc, uow, subject, bound, now)
        uow.commit()
    return bound


def begin_webauthn(svc: Services, *, token: str) -> dict[str, Any]:
    """Creation options (user verification required) bound to this session."""
    ctx = subject_sessions.current(svc, token, allow_bind_due=True)
    now = svc.clock.now()
    with svc.uow() as uow:
        require_binding_level(uow, ctx, AuthenticatorKind.WEBAUTHN, now)
        options = webauthn_ceremonies.begin_registration(
            svc, uow, subject=ctx.subject, session_id=ctx.session.id, require_uv=True, now=now
        )
        uow.commit()
    return options


def finish_webauthn(svc: Services, *, token: str, response: str, label: str) -> Authenticator:
    """Verify the creation response and bind the credential; binding it satisfies
    the R-45 demand after a help-desk recovery. Raises ProofingFailed."""
    ctx = subject_sessions.current(svc, token, allow_bind_due=True)
    now = svc.clock.now()
    with svc.uow() as uow:
        require_binding_level(uow, ctx, AuthenticatorKind.WEBAUTHN, now)
        try:
            bound = webauthn_ceremonies.finish_registration(
                svc,
                uow,
                subject=ctx.subject,
                session_id=ctx.session.id,
                response=response,
                label=_label(label, "security key"),
                by=subject_actor(ctx.subject.id),
                now=now,
            )
        except WebAuthnRejected as exc:
            uow.commit()  # the challenge is used up either way
            raise ProofingFailed(
                "the security key response was not accepted", reason=str(exc)
            ) from exc
        _bound(svc, uow, ctx.subject, bound, now)
        subject_sessions.satisfy_bind(uow, ctx.subject.id, now=now, by="webauthn bound")
        uow.commit()
    return bound


def regenerate_recovery_codes(svc: Services, *, token: str) -> list[str]:
    """A new set of saved codes, shown once; the old set is revoked (R-12)."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    subject = ctx.subject
    with svc.uow() as uow:
        require_binding_level(uow, ctx, AuthenticatorKind.RECOVERY_CODES, now)
        for old in uow.authenticators.revoke_kind(
            subject.id, AuthenticatorKind.RECOVERY_CODES, reason="regenerated", now=now
        ):
            record(
                uow,
                REVOKED[old.kind],
                subject.id,
                now,
                data={"authenticator": old.id},
                reason="regenerated",
            )
        uow.authenticators.discard_unused_codes(subject.id)
        bound = uow.authenticators.bind(
            subject.id,
            AuthenticatorKind.RECOVERY_CODES,
            label="saved recovery codes",
            by=subject_actor(subject.id),
            now=now,
        )
        codes = recovery_code.generate_codes(RECOVERY_CODE_COUNT)
        for code in codes:
            uow.enrolments.add_recovery_code(subject.id, code.lookup_id, code.hash, now=now)
        _bound(svc, uow, subject, bound, now)
        uow.commit()
    return [c.plain for c in codes]


def revoke(svc: Services, *, token: str, authenticator_id: str, reason: str) -> Authenticator:
    """Invalidate one of the subject's own authenticators at once (R-29)."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    with svc.uow() as uow:
        require_fresh(ctx, now)
        mine = {a.id for a in uow.authenticators.active(ctx.subject.id)}
        revoked = (
            uow.authenticators.revoke(
                authenticator_id, reason=_label(reason, "revoked by subject"), now=now
            )
            if authenticator_id in mine
            else None
        )
        if revoked is None:
            raise NotFound("no such active authenticator")
        if revoked.kind == AuthenticatorKind.RECOVERY_CODES:
            uow.authenticators.discard_unused_codes(ctx.subject.id)
        record(
            uow,
            REVOKED[revoked.kind],
            ctx.subject.id,
            now,
            data={"authenticator": revoked.id},
            reason=revoked.revoked_reason or "",
        )
        uow.commit()
    return revoked


def _bound(svc: Services, uow: Any, subject: Any, bound: Authenticator, now: Any) -> None:
    record(
        uow,
        BOUND[bound.kind],
        subject.id,
        now,
        data={"authenticator": bound.id, "label": bound.label},
    )
    announce_binding(svc, uow, subject, method=str(bound.kind), label=bound.label, now=now)


def _label(text: str, default: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_LABEL:
        raise InvalidInput(f"a label has at most {MAX_LABEL} characters")
    return text or default
