"""Checking proofing evidence against what the subject enrolled, with throttling
(R-12, R-13, R-15, R-18). The verdicts feed ``Case.record_proof``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.credentials import seal_contexts
from custos.domain.errors import InvalidInput, Throttled
from custos.domain.events import EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case, Channel, ContactKind, Subject
from custos.notify import messages
from custos.proofing import email_code, recovery_code, sms_code, totp
from custos.proofing.base import METHODS
from custos.service.ceremonies import reproofing, webauthn_ceremonies
from custos.service.notices import dispatch as notices
from custos.service.notices import sms
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork

#: Codes a case may have sent within one code lifetime (R-20: no inbox flooding).
MAX_CODES_PER_WINDOW = 3
#: Methods whose evidence arrives out of band (a manager's link, the subject's own
#: device), never as a response typed in by the caller or an agent.
OUT_OF_BAND = frozenset({"manager_attestation", "agent_challenge"})


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    #: A fresh saved recovery code replacing the one just used (R-12); shown once,
    #: to the subject only.
    replacement_code: str | None = None


def throttle_key(subject_id: str, method: str) -> str:
    return f"proof:{subject_id}:{method}"


def check_throttle(
    uow: UnitOfWork, case: Case, method: str, now: datetime, *, source: str | None = None
) -> None:
    """Count this attempt against the subject's throttles (service/signals/throttles.py:
    per authenticator and source, per authenticator, per source) before the
    evidence is checked. Raises Throttled (after recording the refusal on the
    case, uncounted) while a delay or the R-18 lock applies."""
    refusal = throttles.reserve_proof(
        uow, who=throttles.subject_who(case.subject_id), method=method, source=source, now=now
    )
    if refusal is None:
        return
    case.emit(
        EventType.PROOFING_THROTTLED,
        at=now,
        actor=SYSTEM_ACTOR,
        outcome=Outcome.DENIED,
        data={
            "method": method,
            "scope": refusal.scope,
            "locked": refusal.locked,
            "retry_after_s": refusal.retry_after_s,
        },
    )
    raise throttled(refusal)


def throttled(refusal: throttles.Refusal) -> Throttled:
    """The one Throttled answer for a refusal, known account or not (R-19)."""
    if refusal.locked:
        return Throttled(
            "too many consecutive failures: this method is locked for this subject; "
            "use another recovery method or ask the help desk",
            retry_after_seconds=refusal.retry_after_s,
            locked=True,
        )
    return Throttled(
        f"too many attempts: try again in {refusal.retry_after_s} seconds",
        retry_after_seconds=refusal.retry_after_s,
        locked=False,
    )


def verify(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject: Subject,
    method: str,
    response: str,
    now: datetime,
) -> Verdict:
    """Check ``response`` for ``method``; consume what is single-use. Never raises
    for a wrong answer (that is a failed verdict); raises InvalidInput for an
    unknown method."""
    if method not in METHODS:
        raise InvalidInput(f"unknown proofing method '{method}'", known=sorted(METHODS))
    if method in OUT_OF_BAND:
        raise InvalidInput(
            f"'{method}' is answered out of band, through its own endpoints, not as a code"
        )
    response = response.strip()
    if method == "reproofing":
        return Verdict(
            reproofing.verify(svc, uow, case=case, subject=subject, token=response, now=now)
        )
    if method == "totp":
        return Verdict(_verify_totp(svc, uow, subject, response, now))
    if method == "webauthn":  # an assertion answering this case's challenge
        return Verdict(
            webauthn_ceremonies.check_assertion(
                svc,
                uow,
                subject=subject,
                purpose=webauthn_ceremonies.CASE,
                response=response,
                now=now,
                case_id=case.id,
            )
        )
    if method == "recovery_code":
        return _verify_recovery_code(svc, uow, case, subject, response, now)
    if method == "sms_code":
        passed = sms.verify_code(svc, uow, case=case, subject=subject, code=response, now=now)
        return Verdict(passed)
    return Verdict(_verify_email_code(svc, uow, case, response, now))


def equalise_unknown(svc: Services, method: str) -> None:
    """Spend what a real check of ``method`` would, for requests with no case
    behind them (R-19): the recovery-code hash, or one HMAC for issued codes."""
    if method == "recovery_code":
        recovery_code.dummy_verify()
    elif method in ("email_code", "sms_code"):
        sms_code.dummy_match(svc.mac_key)


def record_outcome(
    uow: UnitOfWork,
    subject_id: str,
    method: str,
    passed: bool,
    now: datetime,
    *,
    source: str | None = None,
) -> None:
    """A failure was already counted by :func:`check_throttle`; a success ends
    the run of consecutive failures (R-18)."""
    del now  # kept for callers; the counters were stamped when the attempt was counted
    if passed:
        throttles.proof_passed(
            uow, who=throttles.subject_who(subject_id), method=method, source=source
        )


def _verify_totp(
    svc: Services, uow: UnitOfWork, subject: Subject, code: str, now: datetime
) -> bool:
    enrolled = uow.enrolments.totp(subject.id)
    if enrolled is None:
        return False
    sealed_secret, last_step = enrolled
    secret = svc.sealer.unseal(sealed_secret, aad=seal_contexts.subject_totp(subject.id))
    step = totp.verify_totp(secret, code, now=now, last_used_step=last_step)
    # The guarded update refuses a step another request used meanwhile (replay).
    return step is not None and uow.enrolments.mark_totp_step(subject.id, step)


def _verify_recovery_code(
    svc: Services, uow: UnitOfWork, case: Case, subject: Subject, text: str, now: datetime
) -> Verdict:
    parsed = recovery_code.parse_code(text)
    stored = uow.enrolments.unused_recovery_code(subject.id, parsed[0]) if parsed else None
    if stored is None:
        recovery_code.dummy_verify()  # same cost whether or not the lookup id exists
        return Verdict(False)
    code_id, code_hash = stored
    if not recovery_code.verify_code(text, code_hash) or not uow.enrolments.use_recovery_code(
        code_id, now=now
    ):
        return Verdict(False)
    replacement: str | None = None
    if case.channel == Channel.SELF_SERVICE:
        # a used code is replaced. Only the subject's own session sees the new one;
        # an agent-assisted case never does.
        fresh = recovery_code.generate_codes(
            1, taken_ids=uow.enrolments.unused_lookup_ids(subject.id)
        )[0]
        uow.enrolments.add_recovery_code(subject.id, fresh.lookup_id, fresh.hash, now=now)
        replacement = fresh.plain
    remaining = uow.enrolments.remaining_recovery_codes(subject.id)
    case.emit(
        EventType.RECOVERY_CODE_USED,
        at=now,
        actor=SYSTEM_ACTOR,
        data={"remaining": remaining, "replacement_issued": replacement is not None},
    )
    # the subject's contacts learn a code was used; never which, nor its successor.
    notices.notify_recovery_code_used(
        svc, uow, case=case, subject=subject, remaining=remaining, now=now
    )
    return Verdict(True, replacement)


def _verify_email_code(
    svc: Services, uow: UnitOfWork, case: Case, code: str, now: datetime
) -> bool:
    for code_id, digest in uow.email_codes.live(case.id, now):
        if email_code.code_matches(svc.mac_key, case_id=case.id, code=code, digest=digest):
            return uow.email_codes.use(code_id, now=now)
    return False


def send_email_code(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, actor: str, now: datetime
) -> bool:
    """Issue a one-time code to the subject's confirmed email contacts (R-13, R-14,
    R-15). Returns False (and sends nothing) when the subject has none or the tier
    does not allow the method. Raises Throttled past MAX_CODES_PER_WINDOW."""
    contacts = subject.confirmed_contacts(ContactKind.EMAIL)
    if "email_code" not in case.requirements.methods or not contacts:
        return False
    recent = uow.email_codes.issued_since(case.id, now - email_code.CODE_TTL)
    if recent >= MAX_CODES_PER_WINDOW:
        raise Throttled(
            "too many codes requested; wait for the last one or use another method",
            retry_after_seconds=int(email_code.CODE_TTL.total_seconds()),
        )
    code = email_code.new_code()
    uow.email_codes.add(
        case.id,
        email_code.code_digest(svc.mac_key, case_id=case.id, code=code),
        now=now,
        expires_at=now + email_code.CODE_TTL,
    )
    case.emit(
        EventType.CHALLENGE_SENT,
        at=now,
        actor=actor,
        data={
            "method": "email_code",
            "contacts": len(contacts),
            "expires_in_s": int(email_code.CODE_TTL.total_seconds()),
        },
    )
    minutes = int(email_code.CODE_TTL.total_seconds() // 60)
    batch = [
        messages.email_code(to=c.address, case_id=case.id, code=code, minutes=minutes)
        for c in contacts
    ]
    notices.queue(svc, uow, batch, subject_id=subject.id)
    return True
