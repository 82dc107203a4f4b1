"""Agent-run challenges (R-21, R-45): a help-desk agent triggers a challenge to
the subject's enrolled factor; the subject answers on their own device; the
agent learns only ``pending``, ``passed``, ``failed`` or ``expired``.

Modes:

- ``totp``: a link to a subject-facing page goes to the subject's confirmed
  email contacts; the subject opens it and types the code of their own
  authenticator app there, never to the agent.
- ``contact_code``: the same link, and an 8-digit code in a separate message
  to the same contacts; the subject types the code on the page.

The page link (``cch_`` token) and the code are stored as digests; a challenge
lives 10 minutes (R-15), takes 3 wrong answers, and a newer challenge of the
case supersedes it. Challenges are rate-limited per case and per subject (no
push bombing, R-21): a suppressed challenge is an audited ledger event. A
passed challenge is one passed ``agent_challenge`` proof; nothing here binds a
factor (R-45).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from custos.credentials import seal_contexts
from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain import sod
from custos.domain.errors import AlreadyDecided, InvalidInput, Throttled, TokenInvalid
from custos.domain.events import EventType, Outcome
from custos.domain.model import (
    SYSTEM_ACTOR,
    Case,
    Channel,
    ContactKind,
    Operator,
    ProofRecord,
    Role,
    Subject,
    subject_actor,
)
from custos.domain.states import CaseState
from custos.notify import messages
from custos.proofing import email_code, totp
from custos.proofing.base import METHODS
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery import credentials, proofing
from custos.service.recovery.case_transaction import case_transaction
from custos.store.proofing_repository import StoredChallenge
from custos.store.unit_of_work import UnitOfWork

METHOD: Final = "agent_challenge"
LINK_PREFIX: Final = "cch"
MODES: Final = ("totp", "contact_code")
TTL: Final = timedelta(minutes=10)
MAX_WRONG_ANSWERS: Final = 3
#: R-21: at most this many challenges per case in CASE_WINDOW ...
MAX_PER_CASE: Final = 3
CASE_WINDOW: Final = timedelta(minutes=15)
#: ... and per subject, across cases, in SUBJECT_WINDOW.
MAX_PER_SUBJECT: Final = 5
SUBJECT_WINDOW: Final = timedelta(hours=1)
INVALID_LINK: Final = "this verification link is not valid any more"


@dataclass(frozen=True, slots=True)
class ChallengeStatus:
    """All an agent ever learns of a challenge."""

    case_id: str
    mode: str
    state: str  # pending, passed, failed, expired, superseded
    expires_at: datetime
    case_state: str


@dataclass(frozen=True, slots=True)
class ChallengePrompt:
    """What the subject's page shows."""

    case_id: str
    mode: str
    expires_at: datetime


def state_of(challenge: StoredChallenge, now: datetime) -> str:
    """The state shown to agents: a pending challenge past its time is ``expired``."""
    if challenge.state == "pending" and challenge.expires_at <= now:
        return "expired"
    return challenge.state


def trigger(
    svc: Services, operator: Operator, case_id: str, *, mode: str | None
) -> ChallengeStatus:
    """Send a challenge for ``case_id``. ``mode`` None: ``totp`` when the subject
    enrolled TOTP, else ``contact_code``. Raises NotAuthorized, OutOfScope,
    SeparationOfDuties, AlreadyDecided, InvalidInput (tier forbids the method,
    nothing to challenge) and Throttled (after recording the suppression)."""
    if mode is not None and mode not in MODES:
        raise InvalidInput(f"mode is one of {', '.join(MODES)}")
    with case_transaction(svc, case_id, operator=operator, action="challenge") as txn:
        sod.check_role(operator, Role.REQUESTER)
        sod.check_scope(operator, txn.subject)
        sod.check_not_subject(operator, txn.subject)
        case, subject, now, uow = txn.case, txn.subject, txn.now, txn.uow
        if case.state != CaseState.PROOFING:
            raise AlreadyDecided(f"case {case.id} is not collecting evidence")
        if METHOD not in case.requirements.methods:
            raise InvalidInput(f"tier '{case.requirements.tier}' does not allow {METHOD}")
        has_totp = uow.enrolments.totp(subject.id) is not None
        chosen = mode or ("totp" if has_totp else "contact_code")
        contacts = subject.confirmed_contacts(ContactKind.EMAIL)
        if chosen == "totp" and not has_totp:
            raise InvalidInput("the subject has no enrolled TOTP authenticator")
        if not contacts:
            raise InvalidInput("the subject has no confirmed contact to reach their own device")
        try:
            _check_rate(uow, case, subject, now)
        except Throttled:
            txn.save_and_commit()
            raise
        uow.challenges.supersede_pending(case.id, now=now)
        link = issue_token(LINK_PREFIX)
        code = email_code.new_code() if chosen == "contact_code" else None
        uow.challenges.add(
            case_id=case.id,
            subject_id=subject.id,
            mode=chosen,
            requested_by=operator.actor,
            digest=link.digest,
            code_digest=None if code is None else _code_digest(svc, case.id, code),
            now=now,
            expires_at=now + TTL,
        )
        case.emit(
            EventType.AGENT_CHALLENGE_SENT,
            at=now,
            actor=operator.actor,
            data={
                "mode": chosen,
                "contacts": len(contacts),
                "expires_in_s": int(TTL.total_seconds()),
            },
        )
        minutes = int(TTL.total_seconds() // 60)
        url = f"{svc.settings.public_origin}/challenge#token={link.plain}"
        batch = [
            messages.agent_challenge(
                to=c.address, case_id=case.id, mode=chosen, link=url, minutes=minutes
            )
            for c in contacts
        ]
        notices.queue(svc, uow, batch, subject_id=subject.id)
        if code is not None:
            codes = [
                messages.email_code(to=c.address, case_id=case.id, code=code, minutes=minutes)
                for c in contacts
            ]
            notices.queue(svc, uow, codes, subject_id=subject.id)
        txn.save_and_commit()
        return ChallengeStatus(
            case_id=case.id,
            mode=chosen,
            state="pending",
            expires_at=now + TTL,
            case_state=str(case.state),
        )


def _check_rate(uow: UnitOfWork, case: Case, subject: Subject, now: datetime) -> None:
    """Raise Throttled (after emitting the audited suppression) past a limit (R-21)."""
    per_case = uow.challenges.issued_since(since=now - CASE_WINDOW, case_id=case.id)
    per_subject = uow.challenges.issued_since(since=now - SUBJECT_WINDOW, subject_id=subject.id)
    if per_case < MAX_PER_CASE and per_subject < MAX_PER_SUBJECT:
        return
    limit, window = (
        ("case", CASE_WINDOW) if per_case >= MAX_PER_CASE else ("subject", SUBJECT_WINDOW)
    )
    case.emit(
        EventType.AGENT_CHALLENGE_SUPPRESSED,
        at=now,
        actor=SYSTEM_ACTOR,
        outcome=Outcome.DENIED,
        reason=f"challenge limit per {limit} reached (R-21)",
        data={"limit": limit, "per_case": per_case, "per_subject": per_subject},
    )
    raise Throttled(
        f"too many challenges for this {limit}; wait before sending another",
        retry_after_seconds=int(window.total_seconds()),
    )


def lookup(svc: Services, *, token: str) -> ChallengePrompt:
    """What the subject's page shows. Raises TokenInvalid for an unknown, used,
    superseded or expired link."""
    stored = _live(svc, token)
    return ChallengePrompt(case_id=stored.case_id, mode=stored.mode, expires_at=stored.expires_at)


def answer(svc: Services, *, token: str, code: str) -> str:
    """The subject answers on their own device. Returns ``passed``, ``failed``
    (the last allowed wrong answer) or ``retry`` (a wrong answer, tries left).
    Raises TokenInvalid (bad, spent, superseded or expired link; case closed)
    and Throttled (the subject's failures with this method demand a pause)."""
    stored = _live(svc, token)
    with case_transaction(svc, stored.case_id) as txn:
        case, subject, now, uow = txn.case, txn.subject, txn.now, txn.uow
        if case.state != CaseState.PROOFING or METHOD not in case.requirements.methods:
            raise TokenInvalid(INVALID_LINK)
        try:
            proofing.check_throttle(uow, case, METHOD, now)
        except Throttled:
            txn.save_and_commit()
            raise
        passed = _matches(svc, uow, stored, subject, code.strip(), now)
        proofing.record_outcome(uow, subject.id, METHOD, passed, now)
        if passed:
            final = "passed"
        elif stored.attempts + 1 >= MAX_WRONG_ANSWERS:
            final = "failed"
        else:
            uow.challenges.add_attempt(stored.id)
            final = "retry"
        if final != "retry" and not uow.challenges.finish(stored.id, state=final, now=now):
            raise TokenInvalid(INVALID_LINK)  # answered or superseded meanwhile
        case.emit(
            EventType.AGENT_CHALLENGE_ANSWERED,
            at=now,
            actor=subject_actor(subject.id),
            outcome=Outcome.SUCCESS if passed else Outcome.FAILURE,
            data={"mode": stored.mode, "result": final},
        )
        if final != "retry":
            case.record_proof(
                ProofRecord(
                    method=METHOD,
                    passed=passed,
                    at=now,
                    actor=subject_actor(subject.id),
                    phishing_resistant=METHODS[METHOD].phishing_resistant,
                    kind=METHODS[METHOD].kind,
                )
            )
            if case.state in (CaseState.APPROVED,) and case.channel == Channel.SELF_SERVICE:
                credentials.issue(svc, uow, case=case, subject=subject, executor=None, now=now)
        txn.save_and_commit()
    return final


def statuses(uow: UnitOfWork, case_id: str, now: datetime) -> list[dict[str, object]]:
    """The challenges of a case as an agent may see them: mode, state, times."""
    return [
        {
            "mode": c.mode,
            "state": state_of(c, now),
            "issued_at": c.issued_at.isoformat(),
            "expires_at": c.expires_at.isoformat(),
        }
        for c in uow.challenges.for_case(case_id)
    ]


def _live(svc: Services, token: str) -> StoredChallenge:
    if not looks_like_token(token, prefix=LINK_PREFIX):
        raise TokenInvalid(INVALID_LINK)
    with svc.uow() as uow:
        stored = uow.challenges.by_digest(token_digest(token))
    if stored is None or state_of(stored, svc.clock.now()) != "pending":
        raise TokenInvalid(INVALID_LINK)
    return stored


def _code_digest(svc: Services, case_id: str, code: str) -> str:
    # Bound to the case under a purpose of its own: an email_code of the same case
    # never answers a challenge, nor the reverse.
    return email_code.code_digest(svc.mac_key, case_id=f"agent-challenge:{case_id}", code=code)


def _matches(
    svc: Services,
    uow: UnitOfWork,
    stored: StoredChallenge,
    subject: Subject,
    code: str,
    now: datetime,
) -> bool:
    if stored.mode == "contact_code":
        return stored.code_digest is not None and email_code.code_matches(
            svc.mac_key,
            case_id=f"agent-challenge:{stored.case_id}",
            code=code,
            digest=stored.code_digest,
        )
    enrolled = uow.enrolments.totp(subject.id)
    if enrolled is None:
        return False
    sealed_secret, last_step = enrolled
    secret = svc.sealer.unseal(sealed_secret, aad=seal_contexts.subject_totp(subject.id))
    step = totp.verify_totp(secret, code, now=now, last_used_step=last_step)
    return step is not None and uow.enrolments.mark_totp_step(subject.id, step)
