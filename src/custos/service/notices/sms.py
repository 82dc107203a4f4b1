"""SMS codes to a confirmed phone contact (R-13, R-15), refused after a SIM swap
(R-44), and the audited admission of every code send (R-20, R-21).

A code is sent only through ``svc.sms`` (an :class:`~custos.notify.sms.SmsGateway`),
by the worker's outbox sweep after the transaction committed; its delivery is
recorded in the ledger like an email's. While the subject has a SIM-swap or
porting signal younger than ``sim_swap_block_days``, no SMS code is sent and
none is accepted: operator commands answer ``sms_blocked``, self-service
answers exactly as for any other refusal (R-19).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import structlog

from custos.domain.errors import SmsBlocked, Throttled
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case, ContactKind, Subject
from custos.notify.sms import SmsDeliveryFailed, SmsMessage
from custos.proofing import sms_code
from custos.service.notices import outbox
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.sms")

#: SMS codes a case may have sent within one code lifetime.
MAX_CODES_PER_WINDOW = 3
SendOutcome = Literal["sent", "unavailable", "blocked"]


def sim_swap_recent(svc: Services, uow: UnitOfWork, subject_id: str, now: datetime) -> bool:
    """Whether a SIM swap or porting was observed for the subject within
    ``sim_swap_block_days`` (R-44)."""
    last = uow.risk.last_sim_swap(subject_id)
    return last is not None and now - last < timedelta(days=svc.settings.sim_swap_block_days)


def ensure_sms_allowed(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, now: datetime
) -> None:
    """Raise SmsBlocked (after recording ``proofing:sms:blocked`` on the case, for
    the caller to commit) while a SIM-swap signal is recent (R-44)."""
    if sim_swap_recent(svc, uow, subject.id, now):
        _emit_blocked(case, now)
        raise SmsBlocked(
            "SMS recovery is blocked: the carrier reported a SIM swap or number porting "
            f"in the last {svc.settings.sim_swap_block_days} days; use another method",
            case_id=case.id,
        )


def admit_send(
    uow: UnitOfWork, *, case: Case, method: str, source: str | None, now: datetime
) -> throttles.Refusal | None:
    """Count a code send for the case's subject (R-20). A refusal is recorded on
    the case as ``proofing:code:suppressed`` (R-21) and returned; nothing is sent."""
    refusal = throttles.admit_send(
        uow, who=throttles.subject_who(case.subject_id), source=source, now=now
    )
    if refusal is not None:
        case.emit(
            EventType.CODE_SEND_SUPPRESSED,
            at=now,
            actor=SYSTEM_ACTOR,
            outcome=Outcome.DENIED,
            data={
                "method": method,
                "scope": refusal.scope,
                "retry_after_s": refusal.retry_after_s,
            },
        )
    return refusal


def send_code(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, actor: str, now: datetime
) -> SendOutcome:
    """Issue an SMS code to the subject's confirmed phone numbers. ``unavailable``
    when the tier does not allow ``sms_code`` or no phone is confirmed;
    ``blocked`` (recorded on the case) after a recent SIM swap. Raises Throttled
    past MAX_CODES_PER_WINDOW codes for the case."""
    phones = subject.confirmed_contacts(ContactKind.SMS)
    if "sms_code" not in case.requirements.methods or not phones:
        return "unavailable"
    if sim_swap_recent(svc, uow, subject.id, now):
        _emit_blocked(case, now)
        return "blocked"
    if uow.risk.sms_codes_issued_since(case.id, now - sms_code.CODE_TTL) >= MAX_CODES_PER_WINDOW:
        raise Throttled(
            "too many codes requested; wait for the last one or use another method",
            retry_after_seconds=int(sms_code.CODE_TTL.total_seconds()),
        )
    code = sms_code.new_code()
    uow.risk.add_sms_code(
        case.id,
        sms_code.code_digest(svc.mac_key, case_id=case.id, code=code),
        now=now,
        expires_at=now + sms_code.CODE_TTL,
    )
    minutes = int(sms_code.CODE_TTL.total_seconds() // 60)
    case.emit(
        EventType.CHALLENGE_SENT,
        at=now,
        actor=actor,
        data={"method": "sms_code", "contacts": len(phones), "expires_in_s": minutes * 60},
    )
    body = (
        f"Custos recovery code: {code}. Valid {minutes} minutes. "
        "Never share it; nobody from IT will ask for it."
    )
    batch = [SmsMessage(to=p.address, body=body, kind="sms_code", case_id=case.id) for p in phones]
    queue_texts(svc, uow, batch, subject_id=subject.id)
    return "sent"


def verify_code(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, code: str, now: datetime
) -> bool:
    """Whether ``code`` is a live, unused SMS code of this case; spends it. False
    (recorded as blocked) while a SIM-swap signal is recent (R-44)."""
    if sim_swap_recent(svc, uow, subject.id, now):
        _emit_blocked(case, now)
        sms_code.dummy_match(svc.mac_key)
        return False
    for code_id, digest in uow.risk.live_sms_codes(case.id, now):
        if sms_code.code_matches(svc.mac_key, case_id=case.id, code=code, digest=digest):
            return uow.risk.use_sms_code(code_id, now=now)
    return False


def _emit_blocked(case: Case, now: datetime) -> None:
    case.emit(
        EventType.SMS_BLOCKED,
        at=now,
        actor=SYSTEM_ACTOR,
        outcome=Outcome.DENIED,
        reason="recent SIM swap or number porting (R-44)",
        data={"method": "sms_code"},
    )


def queue_texts(
    svc: Services, uow: UnitOfWork, batch: list[SmsMessage], *, subject_id: str
) -> None:
    """Write ``batch`` to the outbox in ``uow``'s transaction (sealed); the
    worker's next sweep hands it to the gateway and records how it went
    (``notify:subject:sent`` or ``failed``, never the text)."""
    if batch:
        outbox.hold(svc, uow, "sms", batch, subject_id=subject_id)


def send_texts(svc: Services, batch: list[SmsMessage], *, subject_id: str | None) -> DomainEvent:
    """Hand every text to the gateway; the ledger event that says how it went."""
    failures: list[str] = []
    for message in batch:
        try:
            svc.sms.send(message)
        except SmsDeliveryFailed as exc:
            failures.append(str(exc))
            log.warning("sms_failed", case=message.case_id, error=str(exc))
        except Exception as exc:  # a gateway's own bug: recorded by type, never its text
            failures.append(f"the SMS gateway failed unexpectedly ({type(exc).__name__})")
            log.error("sms_failed", case=message.case_id, error=type(exc).__name__)
    return outbox.delivery_event(
        svc,
        kind=batch[0].kind,
        case_id=batch[0].case_id,
        subject_id=subject_id,
        recipients=len(batch),
        failures=failures,
    )
