"""What redeeming a recovery does, whichever link redeemed it (a subject's reset
link, ``credentials.redeem``; the first owner's link of a shared account,
``shared_accounts.redeem``): the new password sealed for propagation, every
other reset token voided, the subject's Custos sessions ended, a reissue's
authenticators removed, and one receipt per linked account queued."""

from __future__ import annotations

from datetime import datetime

from custos.credentials import seal_contexts
from custos.domain.errors import TokenInvalid
from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR, Case, CredentialAction, Subject
from custos.domain.states import CaseState
from custos.service.enrolment import subject_sessions
from custos.service.ports import Services
from custos.service.recovery import lock_resets, reissue
from custos.store.unit_of_work import UnitOfWork


class TokenExpired(TokenInvalid):
    error_id = "token_expired"


def token_refusal(
    consumed: datetime | None, voided: datetime | None, expires: datetime, now: datetime
) -> str | None:
    """Why a one-time link no longer works (``replayed``, ``voided``,
    ``expired``), or None while it does."""
    if consumed is not None:
        return "replayed"
    if voided is not None:
        return "voided"
    if expires <= now:
        return "expired"
    return None


def begin_recovery(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject: Subject,
    password: str,
    must_change: bool,
    actor: str,
    now: datetime,
    data: dict[str, object] | None = None,
) -> None:
    """Everything a redemption changes, in ``uow`` (not committed), with the
    ``credential:token:redeemed`` event (``data`` added to it) on ``case``."""
    # Any change of credential voids every other live token of the subject.
    voided = uow.tokens.void_live(subject.id, now=now, reason="credential changed")
    # the recovery ends the subject's Custos sessions too.
    subject_sessions.end_all(uow, subject.id, now=now, reason="recovery")
    if case.requirements.action == CredentialAction.REISSUE:
        reissue.reissue_in_custos(uow, case=case, subject=subject, now=now)
    uow.secrets.put(
        case.id,
        svc.sealer.seal(password, aad=seal_contexts.case_secret(case.id)),
        must_change=must_change,
        now=now,
    )
    case.emit(
        EventType.TOKEN_REDEEMED,
        at=now,
        actor=actor,
        data={"voided_other_tokens": voided, "must_change": must_change, **(data or {})},
    )
    if must_change:
        case.emit(EventType.TEMP_PASSWORD_ISSUED, at=now, actor=SYSTEM_ACTOR)
    lock_resets.reset_after_recovery(uow, case=case, now=now)
    queue_propagation(svc, uow, case=case, subject=subject, now=now)


def queue_propagation(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, now: datetime
) -> None:
    """Move to ``executing`` with one receipt per linked account; the tier's
    ``required_targets`` says which must succeed (None: all)."""
    accounts = start_propagation(case, subject, now=now)
    if accounts:
        uow.receipts.create(
            case.id, accounts, now=now, max_attempts=svc.settings.worker.max_attempts
        )


def start_propagation(
    case: Case, subject: Subject, *, now: datetime
) -> list[tuple[str, str, bool]]:
    """The in-memory half of :func:`queue_propagation`: move the case to
    ``executing`` (on to ``needs_attention`` when the subject has no linked
    account) and return the receipts to create, (target, account, required)."""
    required = case.requirements.required_targets
    accounts = [
        (a.target, a.account_id, required is None or a.target in required) for a in subject.accounts
    ]
    case.move(
        CaseState.EXECUTING,
        at=now,
        actor=SYSTEM_ACTOR,
        reason=f"propagating to {len(accounts)} account(s)",
    )
    if not accounts:
        case.move(
            CaseState.NEEDS_ATTENTION,
            at=now,
            actor=SYSTEM_ACTOR,
            reason="the subject has no linked account to propagate to",
        )
    return accounts
