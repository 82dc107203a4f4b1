"""Operators sign in to the console with a local account (docs/console.md#signing-in;
R-18, R-19, R-26, R-36): the argon2id password, then a second factor, or, at the
first sign-in, the enrolment of one (TOTP or a security key). Only then does the
caller open a console session (``sessions.open_session``: a new token, R-26).

Between steps the sign-in is kept server-side, keyed by the SHA-256 of a token
the browser holds in a cookie (``PENDING_TTL``). Every failure answers one
generic ``NotAuthorized`` whatever failed (unknown name, wrong password,
disabled operator, wrong code). Every attempt is counted before it is checked,
with the subjects' sign-in throttles (``service/signals/throttles.py``): per
(operator, source), per operator with a gentler ceiling, and per source across
names for the password step. A name that matches nobody is counted under a keyed
stand-in and spends a dummy argon2 check, so it answers like a real account
(R-19); the web face adds the equal-time floor. Each failure is a ledger event
``auth:operator:sign_in_failed`` (never the password or code), counted in the
operator's (or, for an unknown name, ``anonymous``'s) ``sign_in`` refusal
window in the same transaction; an attempt the throttle turns away is recorded
as a ``sign_in`` refusal (R-36: a flood is one summary per window,
docs/oversight.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.errors import InvalidInput, NotAuthorized, ProofingFailed, Throttled
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import Operator
from custos.domain.operator_accounts import (
    PENDING_TTL,
    FactorKind,
    OperatorFactor,
    PendingSignIn,
    SignInExpired,
    SignInStage,
    next_stage,
)
from custos.oversight.refusals import RefusalKind
from custos.service.console import operator_factors, operator_passwords
from custos.service.console.operator_factors import TotpEnrolment
from custos.service.console.operator_ledger import record
from custos.service.oversight import refusals
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork

PENDING_PREFIX = "cps"
SIGN_IN_FAILED = "sign-in failed: check your name, password and code"
START_AGAIN = "this sign-in expired or was already used; sign in again"
#: The actor of a sign-in that named no operator.
UNKNOWN_ACTOR = "anonymous"
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class Started:
    """A sign-in waiting for its next step: the cookie's token (shown once) and the stage."""

    token: str = field(repr=False)
    stage: SignInStage


@dataclass(frozen=True, slots=True)
class PendingContext:
    sign_in: PendingSignIn
    operator: Operator
    factors: tuple[FactorKind, ...]


def check_password(svc: Services, *, name: str, password: str, source: str | None) -> Started:
    """The first step. Raises NotAuthorized (one message for every failure) or
    Throttled (alike for known and unknown names)."""
    name = name.strip()
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        operator = uow.operators.by_name(name) if 0 < len(name) <= MAX_NAME else None
    who = (
        throttles.operator_who(operator.id)
        if operator is not None
        else throttles.anonymous_who(svc.mac_key, f"operator:{name}")
    )
    actor = UNKNOWN_ACTOR if operator is None else operator.actor
    with throttle_recorded(svc, actor), svc.uow() as uow:
        reserve(uow, who, source, now, names_account=True)
        stored = None if operator is None else uow.operator_credentials.password(operator.id)
        uow.commit()
    matches = operator_passwords.verify(None if stored is None else stored.hash, password)
    if operator is None:
        _fail_unknown(svc, who, now)
    if stored is None or not matches or not operator.active:
        _fail(svc, operator, now, step="password")
    with svc.uow() as uow:
        stage = next_stage(
            must_change_password=stored.must_change,
            has_factor=bool(operator_factors.methods(uow, operator.id)),
        )
        token = start(uow, operator, stage, method="password", now=now)
        uow.commit()
    return Started(token, stage)


def start(
    uow: UnitOfWork, operator: Operator, stage: SignInStage, *, method: str, now: datetime
) -> str:
    """A new pending sign-in at ``stage`` in the caller's transaction; its token."""
    token = issue_token(PENDING_PREFIX)
    uow.operator_credentials.start_sign_in(
        token.digest,
        operator_id=operator.id,
        stage=stage,
        method=method,
        now=now,
        expires_at=now + PENDING_TTL,
    )
    return token.plain


def pending(svc: Services, token: str, stage: SignInStage | None = None) -> PendingContext:
    """The live sign-in behind ``token`` (at ``stage`` when given). Raises
    SignInExpired when it is unknown, used, too old, at another stage, or its
    operator is disabled."""
    if not looks_like_token(token, prefix=PENDING_PREFIX):
        raise SignInExpired(START_AGAIN)
    now = svc.clock.now()
    with svc.uow() as uow:
        found = uow.operator_credentials.sign_in(token_digest(token))
        operator = None if found is None else uow.operators.get(found.operator_id)
        if found is None or operator is None or not operator.active or not found.live(now):
            raise SignInExpired(START_AGAIN)
        if stage is not None and found.stage != stage:
            raise SignInExpired(START_AGAIN)
        factors = operator_factors.methods(uow, operator.id)
    return PendingContext(found, operator, factors)


def choose_password(svc: Services, token: str, *, password: str) -> SignInStage:
    """The NEW_PASSWORD step (a one-time password or an enrolment link): set the
    operator's own password; return the next stage. Raises PasswordRejected,
    SignInExpired."""
    ctx = pending(svc, token, SignInStage.NEW_PASSWORD)
    operator_passwords.check_rules(ctx.operator, password)
    hashed = operator_passwords.hash_password(password)
    now = svc.clock.now()
    stage = SignInStage.SECOND_FACTOR if ctx.factors else SignInStage.ENROL
    with svc.uow() as uow:
        uow.operator_credentials.set_password(ctx.operator.id, hashed, must_change=False, now=now)
        uow.operator_credentials.set_stage(ctx.sign_in.id, stage)
        record(
            uow,
            EventType.OPERATOR_PASSWORD_SET,
            ctx.operator,
            now,
            actor=ctx.operator.actor,
            by="operator at sign-in",
        )
        uow.commit()
    return stage


def verify_second_factor(
    svc: Services, token: str, *, method: str, response: str, source: str | None
) -> Operator:
    """The SECOND_FACTOR step; the sign-in is complete once it passes: the caller
    opens the session. Raises NotAuthorized, Throttled, SignInExpired, InvalidInput
    (a method the operator has not bound)."""
    ctx = pending(svc, token, SignInStage.SECOND_FACTOR)
    kind = chosen_factor(ctx.factors, method)
    now = svc.clock.now()
    who = throttles.operator_who(ctx.operator.id)
    with throttle_recorded(svc, ctx.operator.actor), svc.uow() as uow:
        reserve(uow, who, source, now, names_account=False)
        uow.commit()
    with svc.uow() as uow:
        passed = operator_factors.check(
            svc,
            uow,
            ctx.operator,
            method=kind,
            response=response,
            sign_in_id=ctx.sign_in.id,
            now=now,
        )
        if not passed:
            _failed(svc, uow, ctx.operator, now, step="second_factor", method=str(kind))
            uow.commit()  # a consumed challenge stays consumed
            raise NotAuthorized(SIGN_IN_FAILED)
        _complete(uow, ctx, who, source, now)
        uow.commit()
    return ctx.operator


def key_sign_in_options(svc: Services, token: str) -> dict[str, Any]:
    """Request options for the operator's security keys (SECOND_FACTOR step)."""
    ctx = pending(svc, token, SignInStage.SECOND_FACTOR)
    chosen_factor(ctx.factors, str(FactorKind.WEBAUTHN))
    with svc.uow() as uow:
        options = operator_factors.key_assertion_options(svc, uow, ctx.operator, ctx.sign_in.id)
        uow.commit()
    return options


def begin_totp_enrolment(svc: Services, token: str) -> TotpEnrolment:
    """The TOTP secret to enrol (ENROL step): the same for the whole sign-in."""
    ctx = pending(svc, token, SignInStage.ENROL)
    with svc.uow() as uow:
        enrolment = operator_factors.begin_totp(svc, uow, ctx.operator, ctx.sign_in.id)
        uow.commit()
    return enrolment


def confirm_totp_enrolment(svc: Services, token: str, *, code: str, source: str | None) -> Operator:
    """Bind the secret shown if ``code`` matches it; the sign-in is then complete.
    Raises ProofingFailed, Throttled, SignInExpired."""
    ctx = pending(svc, token, SignInStage.ENROL)
    return _enrol(
        svc,
        ctx,
        source,
        lambda uow, now: operator_factors.confirm_totp(
            svc, uow, ctx.operator, ctx.sign_in.id, code, now
        ),
        refused="the code does not match the secret shown: check the device's clock and "
        "enter the next code",
    )


def key_enrolment_options(svc: Services, token: str) -> dict[str, Any]:
    """Creation options for a new security key (ENROL step)."""
    ctx = pending(svc, token, SignInStage.ENROL)
    with svc.uow() as uow:
        options = operator_factors.key_registration_options(svc, uow, ctx.operator, ctx.sign_in.id)
        uow.commit()
    return options


def finish_key_enrolment(
    svc: Services, token: str, *, response: str, label: str, source: str | None
) -> Operator:
    """Bind the security key that answered the creation options; the sign-in is
    then complete. Raises ProofingFailed, Throttled, SignInExpired."""
    ctx = pending(svc, token, SignInStage.ENROL)
    return _enrol(
        svc,
        ctx,
        source,
        lambda uow, now: operator_factors.finish_key_registration(
            svc, uow, ctx.operator, ctx.sign_in.id, response=response, label=label, now=now
        ),
        refused="the security key's answer was not accepted; try again",
    )


def _enrol(
    svc: Services,
    ctx: PendingContext,
    source: str | None,
    bind: Callable[[UnitOfWork, datetime], OperatorFactor | None],
    *,
    refused: str,
) -> Operator:
    now = svc.clock.now()
    who = throttles.operator_who(ctx.operator.id)
    with throttle_recorded(svc, ctx.operator.actor), svc.uow() as uow:
        reserve(uow, who, source, now, names_account=False)
        uow.commit()
    with svc.uow() as uow:
        factor = bind(uow, now)
        if factor is None:
            _failed(svc, uow, ctx.operator, now, step="enrolment")
            uow.commit()
            raise ProofingFailed(refused)
        record(
            uow,
            EventType.OPERATOR_SECOND_FACTOR_BOUND,
            ctx.operator,
            now,
            actor=ctx.operator.actor,
            kind=str(factor.kind),
            factor=factor.id,
        )
        _complete(uow, ctx, who, source, now)
        uow.commit()
    return ctx.operator


def _complete(
    uow: UnitOfWork, ctx: PendingContext, who: str, source: str | None, now: datetime
) -> None:
    """The sign-in is used up (once, even when two requests race) and its
    failures forgiven; raises SignInExpired when another request finished it."""
    if not uow.operator_credentials.end_sign_in(ctx.sign_in.id, now=now):
        raise SignInExpired(START_AGAIN)
    throttles.sign_in_passed(uow, who=who, source=source)


def chosen_factor(factors: tuple[FactorKind, ...], method: str) -> FactorKind:
    """``method`` when the operator has bound it. Raises InvalidInput (before
    anything is counted)."""
    for kind in factors:
        if str(kind) == method:
            return kind
    raise InvalidInput("use one of your second factors", methods=[str(f) for f in factors])


def reserve(
    uow: UnitOfWork, who: str, source: str | None, now: datetime, *, names_account: bool
) -> None:
    refusal = throttles.reserve_sign_in(
        uow, who=who, source=source, now=now, names_account=names_account
    )
    if refusal is None:
        return
    if refusal.locked:
        raise Throttled(
            "too many consecutive failures: signing in is locked for this account; ask an admin",
            retry_after_seconds=refusal.retry_after_s,
            locked=True,
        )
    raise Throttled(
        f"too many sign-in attempts: try again in {refusal.retry_after_s} seconds",
        retry_after_seconds=refusal.retry_after_s,
        locked=False,
    )


@contextmanager
def throttle_recorded(svc: Services, actor: str) -> Iterator[None]:
    """An attempt the sign-in throttle turns away (Throttled, raised again) is
    recorded as a ``sign_in`` refusal of ``actor`` once its transaction ended
    (R-36; one write whether the name is known or not, R-19)."""
    try:
        yield
    except Throttled as exc:
        refusals.record(
            svc,
            actor=actor,
            kind=RefusalKind.SIGN_IN,
            action="console_sign_in",
            error_id=exc.error_id,
        )
        raise


def _failed(
    svc: Services,
    uow: UnitOfWork,
    operator: Operator,
    now: datetime,
    *,
    step: str,
    **data: object,
) -> None:
    """A failed sign-in step of a known operator: its ledger entry, counted in
    the operator's ``sign_in`` refusal window (R-36)."""
    refusals.count_in_window(svc, uow, actor=operator.actor, kind=RefusalKind.SIGN_IN, now=now)
    record(
        uow,
        EventType.OPERATOR_SIGN_IN_FAILED,
        operator,
        now,
        actor=operator.actor,
        outcome=Outcome.FAILURE,
        data={"step": step, **data},
    )


def _fail(svc: Services, operator: Operator, now: datetime, *, step: str) -> NoReturn:
    """Record a failure of a known operator (already counted) and refuse."""
    with svc.uow() as uow:
        _failed(svc, uow, operator, now, step=step)
        uow.commit()
    raise NotAuthorized(SIGN_IN_FAILED)


def _fail_unknown(svc: Services, who: str, now: datetime) -> NoReturn:
    """Record a failure for a name that matches nobody, under its keyed stand-in
    (never the name itself), and refuse: the write matches a known operator's."""
    with svc.uow() as uow:
        refusals.count_in_window(svc, uow, actor=UNKNOWN_ACTOR, kind=RefusalKind.SIGN_IN, now=now)
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.OPERATOR_SIGN_IN_FAILED,
                    occurred_at=now,
                    actor=UNKNOWN_ACTOR,
                    subject_id=None,
                    case_id=None,
                    outcome=Outcome.FAILURE,
                    data={"unknown_name": who, "step": "password"},
                )
            ]
        )
        uow.commit()
    raise NotAuthorized(SIGN_IN_FAILED)
