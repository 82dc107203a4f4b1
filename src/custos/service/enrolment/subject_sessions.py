"""Subject sign-in to Custos for self-management (R-26, R-27, R-28, R-30).

A subject signs in with their directory password, checked by the identity-source
target's ``authenticate`` operation, then with a second factor when one is bound
(TOTP, WebAuthn or a saved recovery code). Every step that authenticates issues a
new session token and ends the old one (R-26); a full authentication sets
``reauth_at``, which sensitive changes require to be under five minutes old
(R-27). Sessions end after an hour idle or a day in all (R-30), on sign-out, and
on any recovery of the subject (R-24).

Failures answer one generic ``NotAuthorized`` whatever failed (unknown subject,
wrong password, no account on the identity source). Every attempt is counted
before it is checked, like proofing (R-18, ``service/signals/throttles.py``): per
(subject, source) with steep delays, per subject with a higher, gentler ceiling
(so failures from elsewhere never lock the owner out at their own source), and
per source across subjects against password spraying. An identifier that
matches nobody is counted under a keyed stand-in and spends a dummy password
check, so it answers like a real account in status, body and work (R-19); the
API adds the equal-time floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import AuthenticateOp
from custos.credentials.password_hashing import spend_one_verification
from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.enrolment import (
    AAL_OF_KIND,
    SECOND_FACTOR_METHODS,
    Aal,
    AuthenticatorKind,
    SubjectSession,
)
from custos.domain.errors import (
    InvalidInput,
    NotAuthorized,
    PhishingResistantBindRequired,
    Throttled,
)
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import LinkedAccount, Subject, subject_actor
from custos.service.enrolment import second_factor
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork

SESSION_PREFIX = "css"
#: The actor of a sign-in that named nobody Custos knows.
UNKNOWN_ACTOR = "anonymous"
SIGN_IN_FAILED = "sign-in failed"
MAX_PASSWORD = 1024


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session token (shown once) and what the session may still need."""

    token: str
    aal: Aal
    second_factor_due: bool
    second_factors: tuple[str, ...]
    #: A saved recovery code used as the second factor is replaced (R-12); shown once.
    replacement_recovery_code: str | None = None
    #: R-45: after a help-desk recovery the session may do nothing but bind a
    #: phishing-resistant authenticator (WebAuthn) until one is bound or used.
    bind_required: bool = False


@dataclass(frozen=True, slots=True)
class SessionContext:
    session: SubjectSession
    subject: Subject


def sign_in(
    svc: Services, *, identifier: str, password: str, source_address: str | None = None
) -> SignedIn:
    """Check the directory password; return a session (a partial one when a second
    factor is bound). Raises NotAuthorized (one message for every failure) or
    Throttled (alike for known and unknown identifiers)."""
    identifier = identifier.strip()
    if not identifier or not password or len(password) > MAX_PASSWORD:
        raise NotAuthorized(SIGN_IN_FAILED)
    now = svc.clock.now()
    with svc.uow() as uow:
        subject = uow.subjects.find(identifier)
        who = (
            throttles.subject_who(subject.id)
            if subject is not None
            else throttles.anonymous_who(svc.mac_key, identifier)
        )
        _reserve(uow, who, source_address, now, names_account=True)
        uow.commit()
    if subject is None:
        spend_one_verification(password)
        _fail_unknown(svc, who, now)
    if not password_ok(svc, subject, password):
        _fail(svc, subject.id, now)
    with svc.uow() as uow:
        factors = available_second_factors(uow, subject.id)
        due = bool(factors)
        issued = _new_session(
            uow, subject.id, aal=Aal.AAL1, due=due, now=now, reauth_at=None if due else now
        )
        if not due:
            throttles.sign_in_passed(uow, who=who, source=source_address)
        _event(
            uow, EventType.SESSION_SIGNED_IN, subject.id, now, data={"aal": 1, "complete": not due}
        )
        uow.commit()
    return SignedIn(
        token=issued,
        aal=Aal.AAL1,
        second_factor_due=due,
        second_factors=factors,
        bind_required=subject.phishing_resistant_bind_due,
    )


def complete_second_factor(
    svc: Services,
    *,
    token: str,
    method: str,
    response: str,
    source_address: str | None = None,
) -> SignedIn:
    """Finish a sign-in with a second factor: a new token replaces the partial one
    (R-26) and ``reauth_at`` is now. Raises NotAuthorized or Throttled."""
    ctx = current(svc, token, allow_partial=True)
    return _full_authentication(
        svc, ctx, method=method, response=response, password=None, source=source_address
    )


def reauthenticate(
    svc: Services,
    *,
    token: str,
    password: str,
    method: str | None,
    response: str,
    source_address: str | None = None,
) -> SignedIn:
    """A full re-authentication inside a session (R-27): the password again and,
    when one is bound, a second factor, in one request. A new token replaces the
    old (R-26). Raises NotAuthorized or Throttled."""
    ctx = current(svc, token, allow_bind_due=True)
    return _full_authentication(
        svc, ctx, method=method, response=response, password=password, source=source_address
    )


def current(
    svc: Services, token: str, *, allow_partial: bool = False, allow_bind_due: bool = False
) -> SessionContext:
    """The live session behind ``token`` (its idle clock restarted). Raises
    NotAuthorized for an unknown, ended, idle or too old session, or a partial
    one unless ``allow_partial``; PhishingResistantBindRequired when the subject
    must bind a phishing-resistant authenticator first (R-45), unless
    ``allow_bind_due`` (binding WebAuthn, re-authenticating, signing out)."""
    if not looks_like_token(token, prefix=SESSION_PREFIX):
        raise NotAuthorized("sign in first")
    now = svc.clock.now()
    with svc.uow() as uow:
        session = uow.sessions.by_digest(token_digest(token))
        if session is None or not session.live(now):
            raise NotAuthorized("the session ended; sign in again")
        if session.second_factor_due and not allow_partial:
            raise NotAuthorized("finish signing in with your second factor")
        subject = uow.subjects.get(session.subject_id)
        if subject is None:
            raise NotAuthorized("the session ended; sign in again")
        uow.sessions.touch(session.id, now=now)
        uow.commit()
    if subject.phishing_resistant_bind_due and not (allow_partial or allow_bind_due):
        raise PhishingResistantBindRequired(
            "your account was recovered through the help desk: bind a security key "
            "(WebAuthn) before anything else, or re-proof your identity",
            subject=subject.id,
        )
    return SessionContext(session=session, subject=subject)


def sign_out(svc: Services, token: str) -> None:
    ctx = current(svc, token, allow_partial=True, allow_bind_due=True)
    now = svc.clock.now()
    with svc.uow() as uow:
        if uow.sessions.end(ctx.session.id, now=now, reason="signed out"):
            _event(uow, EventType.SESSION_ENDED, ctx.subject.id, now, data={"reason": "signed out"})
        uow.commit()


def end_all(uow: UnitOfWork, subject_id: str, *, now: datetime, reason: str) -> int:
    """End every Custos session of the subject in the caller's transaction (R-24)."""
    ended = uow.sessions.end_all(subject_id, now=now, reason=reason)
    if ended:
        _event(
            uow,
            EventType.SESSION_ENDED,
            subject_id,
            now,
            data={"reason": reason, "sessions": ended},
        )
    return ended


def end_all_many(uow: UnitOfWork, subject_ids: list[str], *, now: datetime, reason: str) -> int:
    """``end_all`` for many subjects (an incident campaign's batch): the same
    ledger event for each subject that had sessions, in one append."""
    ended = uow.sessions.end_all_many(subject_ids, now=now, reason=reason)
    events = [
        DomainEvent(
            type=EventType.SESSION_ENDED,
            occurred_at=now,
            actor=subject_actor(subject_id),
            subject_id=subject_id,
            case_id=None,
            data={"reason": reason, "sessions": count},
        )
        for subject_id, count in sorted(ended.items())
    ]
    if events:
        uow.ledger.append(events)
    return sum(ended.values())


def password_ok(svc: Services, subject: Subject, password: str) -> bool:
    """The password checked by the subject's identity-source account: the first
    linked account on a target marked ``identity_source``, else on any target
    offering ``authenticate``. A target that cannot answer counts as a failure;
    a subject with no such account spends a dummy check (R-19)."""
    for account in _identity_accounts(svc, subject):
        connector = svc.registry.operation(account.target, "authenticate")
        assert isinstance(connector, AuthenticateOp)
        try:
            return connector.authenticate(account.account_id, password)
        except ConnectorError:
            return False
    spend_one_verification(password)
    return False


def available_second_factors(uow: UnitOfWork, subject_id: str) -> tuple[str, ...]:
    """Second-factor methods the subject has bound, strongest first."""
    kinds = {a.kind for a in uow.authenticators.active(subject_id)}
    methods = [m for m, kind in SECOND_FACTOR_METHODS.items() if kind in kinds]
    return tuple(sorted(methods, key=lambda m: -AAL_OF_KIND[SECOND_FACTOR_METHODS[m]]))


def _identity_accounts(svc: Services, subject: Subject) -> list[LinkedAccount]:
    settings_targets = svc.settings.targets
    offering = [
        a
        for a in subject.accounts
        if svc.registry.has(a.target) and "authenticate" in svc.registry.get(a.target).capabilities
    ]
    marked = [
        a
        for a in offering
        if a.target in settings_targets and settings_targets[a.target].identity_source
    ]
    return list(marked or offering)


def _full_authentication(
    svc: Services,
    ctx: SessionContext,
    *,
    method: str | None,
    response: str,
    password: str | None,
    source: str | None,
) -> SignedIn:
    now = svc.clock.now()
    subject = ctx.subject
    who = throttles.subject_who(subject.id)
    with svc.uow() as uow:
        bound = available_second_factors(uow, subject.id)
        if bound:
            _chosen(bound, method)
        _reserve(uow, who, source, now, names_account=False)
        uow.commit()
    if password is not None and not password_ok(svc, subject, password):
        _fail(svc, subject.id, now)
    with svc.uow() as uow:
        factors = available_second_factors(uow, subject.id)
        aal, replacement = Aal.AAL1, None
        if factors:
            method = _chosen(factors, method)
            kind = SECOND_FACTOR_METHODS[method]
            result = second_factor.verify(
                svc,
                uow,
                subject=subject,
                kind=kind,
                response=response,
                session_id=ctx.session.id,
                now=now,
            )
            if not result.passed:
                uow.commit()  # a consumed challenge stays consumed
                _fail(svc, subject.id, now)
            replacement = result.replacement_code
            aal = AAL_OF_KIND[kind]
            if kind == AuthenticatorKind.WEBAUTHN:
                # A phishing-resistant authenticator already bound and now used
                # proves what a new bind would.
                satisfy_bind(uow, subject.id, now=now, by="webauthn sign-in")
        uow.sessions.end(ctx.session.id, now=now, reason="replaced on authentication")
        issued = _new_session(
            uow,
            subject.id,
            aal=aal,
            due=False,
            now=now,
            reauth_at=now,
            created_at=None if ctx.session.second_factor_due else ctx.session.created_at,
        )
        throttles.sign_in_passed(uow, who=who, source=source)
        kind_name = method or "password"
        _event(
            uow,
            EventType.SESSION_REAUTHENTICATED
            if password is not None
            else EventType.SESSION_SIGNED_IN,
            subject.id,
            now,
            data={"aal": int(aal), "factor": kind_name, "complete": True},
        )
        uow.commit()
    return SignedIn(
        token=issued,
        aal=aal,
        second_factor_due=False,
        second_factors=factors,
        replacement_recovery_code=replacement,
        bind_required=subject.phishing_resistant_bind_due
        and not (factors and method == "webauthn"),
    )


def require_bind(
    uow: UnitOfWork,
    subject_id: str,
    *,
    now: datetime,
    case_id: str,
    reason: str = "agent-assisted recovery (R-45)",
) -> None:
    """R-45: after an agent-assisted recovery or a reissue (case ``case_id``), the
    subject's next sign-in must bind a phishing-resistant authenticator before
    anything else; recorded in the ledger with ``reason``."""
    if uow.subjects.set_bind_due(subject_id, True):
        uow.ledger.append([_bind_required(subject_id, case_id, now=now, reason=reason)])


def require_bind_many(
    uow: UnitOfWork, cases: Sequence[tuple[str, str]], *, now: datetime, reason: str
) -> None:
    """``require_bind`` for many (subject id, case id) pairs: one update, and
    one ledger append of the events, in the order given, of the subjects
    whose flag it set."""
    changed = uow.subjects.set_bind_due_many([s for s, _ in cases], True)
    uow.ledger.append(
        [
            _bind_required(subject_id, case_id, now=now, reason=reason)
            for subject_id, case_id in cases
            if subject_id in changed
        ]
    )


def _bind_required(subject_id: str, case_id: str, *, now: datetime, reason: str) -> DomainEvent:
    """The ledger event of a subject's R-45 flag set because of ``case_id``."""
    return DomainEvent(
        type=EventType.BIND_REQUIRED,
        occurred_at=now,
        actor="system:custos",
        subject_id=subject_id,
        case_id=case_id,
        data={"reason": reason},
    )


def satisfy_bind(uow: UnitOfWork, subject_id: str, *, now: datetime, by: str) -> None:
    """Clear the R-45 flag once a phishing-resistant authenticator is bound or used."""
    if uow.subjects.set_bind_due(subject_id, False):
        _event(uow, EventType.BIND_SATISFIED, subject_id, now, data={"by": by})


def _chosen(factors: tuple[str, ...], method: str | None) -> str:
    """``method`` when it is one of the bound ``factors``; raises InvalidInput
    otherwise (before anything is counted)."""
    if method is None or method not in factors:
        raise InvalidInput("give one of your second factors", methods=list(factors))
    return method


def _new_session(
    uow: UnitOfWork,
    subject_id: str,
    *,
    aal: Aal,
    due: bool,
    now: datetime,
    reauth_at: datetime | None,
    created_at: datetime | None = None,
) -> str:
    token = issue_token(SESSION_PREFIX)
    uow.sessions.add(
        token.digest,
        subject_id=subject_id,
        aal=aal,
        second_factor_due=due,
        now=now,
        reauth_at=reauth_at,
        created_at=created_at,
    )
    return token.plain


def _reserve(
    uow: UnitOfWork, who: str, source: str | None, now: datetime, *, names_account: bool
) -> None:
    """Count the attempt before anything is checked; raises Throttled (after
    committing nothing) when a rule refuses it."""
    refusal = throttles.reserve_sign_in(
        uow, who=who, source=source, now=now, names_account=names_account
    )
    if refusal is None:
        return
    if refusal.locked:
        raise Throttled(
            "too many consecutive failures: signing in is locked for this account; "
            "recover the account or ask the help desk",
            retry_after_seconds=refusal.retry_after_s,
            locked=True,
        )
    raise Throttled(
        f"too many sign-in attempts: try again in {refusal.retry_after_s} seconds",
        retry_after_seconds=refusal.retry_after_s,
        locked=False,
    )


def _fail(svc: Services, subject_id: str, now: datetime) -> NoReturn:
    """Record a failure of a known subject (already counted) and refuse."""
    with svc.uow() as uow:
        _event(uow, EventType.SESSION_SIGN_IN_FAILED, subject_id, now, Outcome.FAILURE)
        uow.commit()
    raise NotAuthorized(SIGN_IN_FAILED)


def _fail_unknown(svc: Services, who: str, now: datetime) -> NoReturn:
    """Record a failure for an identifier that matches nobody, under its keyed
    stand-in (never the identifier), and refuse. An attempt is worth auditing
    either way (R-36), and the write matches a known subject's (R-19)."""
    with svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.SESSION_SIGN_IN_FAILED,
                    occurred_at=now,
                    actor=UNKNOWN_ACTOR,
                    subject_id=None,
                    case_id=None,
                    outcome=Outcome.FAILURE,
                    data={"unknown_identifier": who},
                )
            ]
        )
        uow.commit()
    raise NotAuthorized(SIGN_IN_FAILED)


def _event(
    uow: UnitOfWork,
    type_: EventType,
    subject_id: str,
    now: datetime,
    outcome: Outcome = Outcome.SUCCESS,
    data: dict[str, object] | None = None,
) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=type_,
                occurred_at=now,
                actor=subject_actor(subject_id),
                subject_id=subject_id,
                case_id=None,
                outcome=outcome,
                data=data or {},
            )
        ]
    )
