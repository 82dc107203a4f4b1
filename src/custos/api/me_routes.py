"""Subject self-management (docs/enrolment.md): sign-in with the directory
password and a second factor, re-authentication, enrolment of recovery and
sign-in methods, recovery contacts. Authenticated by a subject session
(``Authorization: Bearer css_...``); an operator token is refused (401): no
operator binds a factor for a subject (R-45)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from custos.api import qr_code
from custos.api.auth import ServicesDep, client_address
from custos.api.errors import Unauthenticated
from custos.api.me_schemas import (
    AuthenticatorOut,
    CodeBody,
    ContactBody,
    ContactOut,
    LockOut,
    PendingTotpOut,
    ReauthBody,
    RecoveryCodesOut,
    RevokeBody,
    SecondFactorBody,
    SessionOut,
    SignInBody,
    WebAuthnRegistrationBody,
)
from custos.api.schemas import MAX_ROW_ID
from custos.api.strict_input import authenticates
from custos.domain.enrolment import Authenticator
from custos.domain.errors import NotAuthorized
from custos.domain.model import ContactKind
from custos.service.ceremonies import webauthn_ceremonies
from custos.service.enrolment import authenticators as enrolment
from custos.service.enrolment import contacts, locks, subject_sessions
from custos.service.enrolment.subject_sessions import SignedIn

router = APIRouter(prefix="/api/v1/me", tags=["self-management"])


def session_token(request: Request) -> str:
    """The subject session token of the request; 401 when absent or not one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(f"{subject_sessions.SESSION_PREFIX}_"):
        raise Unauthenticated("sign in: send a subject session as 'Authorization: Bearer css_...'")
    return token


@authenticates
def live_token(request: Request, svc: ServicesDep) -> str:
    token = session_token(request)
    try:
        subject_sessions.current(svc, token, allow_partial=True)
    except NotAuthorized as exc:
        raise Unauthenticated(exc.message) from exc
    return token


TokenDep = Annotated[str, Depends(live_token)]
#: A stored row id (pending TOTP, contact): positive and within the store's integers.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
#: A method name as the throttles count them (``password`` for sign-in).
LockMethod = Annotated[str, Path(min_length=1, max_length=50, pattern=r"^[a-z_]+$")]


def _session(result: SignedIn, response: Response) -> SessionOut:
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        session=result.token,
        aal=int(result.aal),
        second_factor_due=result.second_factor_due,
        second_factors=list(result.second_factors),
        replacement_recovery_code=result.replacement_recovery_code,
        bind_required=result.bind_required,
    )


@router.post("/sign-in", response_model=SessionOut)
def sign_in(body: SignInBody, request: Request, svc: ServicesDep, response: Response) -> SessionOut:
    try:
        result = subject_sessions.sign_in(
            svc,
            identifier=body.identifier,
            password=body.password,
            source_address=client_address(request),
        )
    except NotAuthorized as exc:
        raise Unauthenticated(exc.message) from exc
    return _session(result, response)


@router.post("/webauthn/assertion-options")
def assertion_options(token: TokenDep, svc: ServicesDep) -> dict[str, Any]:
    """Options to answer with a security key as second factor or re-authentication."""
    ctx = subject_sessions.current(svc, token, allow_partial=True)
    now = svc.clock.now()
    with svc.uow() as uow:
        options = webauthn_ceremonies.begin_assertion(
            svc,
            uow,
            subject=ctx.subject,
            purpose=webauthn_ceremonies.SIGN_IN,
            require_uv=True,
            now=now,
            session_id=ctx.session.id,
        )
        uow.commit()
    return options


@router.post("/sign-in/second-factor", response_model=SessionOut)
def second_factor(
    body: SecondFactorBody, token: TokenDep, request: Request, svc: ServicesDep, response: Response
) -> SessionOut:
    result = subject_sessions.complete_second_factor(
        svc,
        token=token,
        method=body.method,
        response=body.code,
        source_address=client_address(request),
    )
    return _session(result, response)


@router.post("/reauthenticate", response_model=SessionOut)
def reauthenticate(
    body: ReauthBody, token: TokenDep, request: Request, svc: ServicesDep, response: Response
) -> SessionOut:
    result = subject_sessions.reauthenticate(
        svc,
        token=token,
        password=body.password,
        method=body.method,
        response=body.code,
        source_address=client_address(request),
    )
    return _session(result, response)


@router.post("/sign-out", status_code=204)
def sign_out(token: TokenDep, svc: ServicesDep) -> Response:
    subject_sessions.sign_out(svc, token)
    return Response(status_code=204)


@router.get("/methods", response_model=list[AuthenticatorOut])
def methods(token: TokenDep, svc: ServicesDep) -> list[AuthenticatorOut]:
    return [_authenticator(a) for a in enrolment.methods(svc, token=token)]


@router.post("/methods/totp", response_model=PendingTotpOut, status_code=201)
def begin_totp(token: TokenDep, svc: ServicesDep, response: Response) -> PendingTotpOut:
    response.headers["Cache-Control"] = "no-store"
    pending = enrolment.begin_totp(svc, token=token)
    return PendingTotpOut(
        pending_id=pending.pending_id,
        otpauth_uri=pending.otpauth_uri,
        qr_code=qr_code.svg_data_uri(pending.otpauth_uri),
    )


@router.post("/methods/totp/{pending_id}/confirm", response_model=AuthenticatorOut)
def confirm_totp(
    pending_id: RowId, body: CodeBody, token: TokenDep, svc: ServicesDep
) -> AuthenticatorOut:
    bound = enrolment.confirm_totp(svc, token=token, pending_id=pending_id, code=body.code)
    return _authenticator(bound)


@router.post("/methods/webauthn/options")
def webauthn_options(token: TokenDep, svc: ServicesDep) -> dict[str, Any]:
    return enrolment.begin_webauthn(svc, token=token)


@router.post("/methods/webauthn", response_model=AuthenticatorOut, status_code=201)
def webauthn_register(
    body: WebAuthnRegistrationBody, token: TokenDep, svc: ServicesDep
) -> AuthenticatorOut:
    bound = enrolment.finish_webauthn(
        svc, token=token, response=json.dumps(body.credential), label=body.label
    )
    return _authenticator(bound)


@router.post("/methods/recovery-codes", response_model=RecoveryCodesOut, status_code=201)
def recovery_codes(token: TokenDep, svc: ServicesDep, response: Response) -> RecoveryCodesOut:
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodesOut(codes=enrolment.regenerate_recovery_codes(svc, token=token))


@router.post("/methods/{authenticator_id}/revoke", response_model=AuthenticatorOut)
def revoke(
    authenticator_id: str, body: RevokeBody, token: TokenDep, svc: ServicesDep
) -> AuthenticatorOut:
    revoked = enrolment.revoke(
        svc, token=token, authenticator_id=authenticator_id, reason=body.reason
    )
    return _authenticator(revoked)


@router.get("/locks", response_model=list[LockOut])
def list_locks(token: TokenDep, svc: ServicesDep) -> list[LockOut]:
    """The methods locked after too many failures (R-18) and what resets each."""
    return [_lock(lock) for lock in locks.listed(svc, token=token)]


@router.post("/locks/{method}/reset", response_model=LockOut)
def reset_lock(method: LockMethod, token: TokenDep, svc: ServicesDep) -> LockOut:
    """Reset one lock from a fresh session at the method's AAL or above (R-5)."""
    return _lock(locks.reset(svc, token=token, method=method))


def _lock(lock: locks.Lock) -> LockOut:
    return LockOut(method=lock.method, aal=int(lock.aal), session_may_reset=lock.session_may_reset)


@router.get("/contacts", response_model=list[ContactOut])
def list_contacts(token: TokenDep, svc: ServicesDep) -> list[ContactOut]:
    return [
        ContactOut(
            id=c.id,
            kind=str(c.kind),
            address=c.address,
            added_at=c.added_at,
            confirmed_at=c.confirmed_at,
        )
        for c in contacts.listed(svc, token=token)
    ]


@router.post("/contacts", status_code=201)
def add_contact(body: ContactBody, token: TokenDep, svc: ServicesDep) -> dict[str, Any]:
    contact_id = contacts.add(svc, token=token, address=body.address, kind=ContactKind(body.kind))
    return {"id": contact_id, "status": "confirmation_sent"}


@router.post("/contacts/{contact_id}/confirm")
def confirm_contact(
    contact_id: RowId, body: CodeBody, token: TokenDep, svc: ServicesDep
) -> dict[str, Any]:
    contacts.confirm(svc, token=token, contact_id=contact_id, code=body.code)
    return {"id": contact_id, "status": "confirmed"}


@router.put("/contacts/{contact_id}", status_code=201)
def replace_contact(
    contact_id: RowId, body: ContactBody, token: TokenDep, svc: ServicesDep
) -> dict[str, Any]:
    new_id = contacts.replace(
        svc, token=token, contact_id=contact_id, address=body.address, kind=ContactKind(body.kind)
    )
    return {"id": new_id, "replaced": contact_id, "status": "confirmation_sent"}


@router.delete("/contacts/{contact_id}", status_code=204)
def remove_contact(contact_id: RowId, token: TokenDep, svc: ServicesDep) -> Response:
    contacts.remove(svc, token=token, contact_id=contact_id)
    return Response(status_code=204)


def _authenticator(a: Authenticator) -> AuthenticatorOut:
    return AuthenticatorOut(
        id=a.id,
        kind=str(a.kind),
        label=a.label,
        bound_at=a.bound_at,
        bound_by=a.bound_by,
        last_used_at=a.last_used_at,
        revoked_at=a.revoked_at,
        revoked_reason=a.revoked_reason,
        active=a.active,
    )
