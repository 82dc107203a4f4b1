"""Recovery contacts managed by the subject (R-14, R-22, R-23, R-27, R-44).

A contact is an email address or a phone number for SMS codes (stored in E.164
form). An added contact receives an 8-digit confirmation code (HMAC-stored, one
hour, single use) by email or by text, and counts for recovery only once the
code came back (R-14); the fifth wrong try voids the code (the contact must be
removed and added again for a new one). Up to MAX_CONTACTS contacts (at least
two, R-14).
Removing a contact, or replacing one (remove and add), tells the OLD address or
number (R-23). Every change needs a fresh re-authentication (R-27) and is a
ledger event. A phone number is refused while the carrier's SIM-swap signal for
the subject is recent (R-44, ``sms_blocked``), and every confirmation text
counts against the subject's code-send limits (R-20, ``throttled``), so a
session cannot be used to pump texts to numbers of its choosing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from custos.domain.errors import (
    CodeVoided,
    InvalidInput,
    NotFound,
    ProofingFailed,
    SmsBlocked,
    Throttled,
)
from custos.domain.events import EventType, Outcome
from custos.domain.model import ContactKind, Subject
from custos.domain.phones import e164
from custos.notify import enrolment_messages
from custos.notify.messages import when
from custos.notify.sms import SmsMessage
from custos.proofing import email_code
from custos.service.enrolment import subject_sessions
from custos.service.enrolment.self_management import record, require_fresh
from custos.service.notices import dispatch as notices
from custos.service.notices import sms
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.store.contact_repository import StoredContact
from custos.store.unit_of_work import UnitOfWork

MAX_CONTACTS: Final = 5
CONFIRM_TTL: Final = timedelta(hours=1)
#: Tries at a contact's confirmation code; the last wrong one voids it.
MAX_CONFIRM_ATTEMPTS: Final = 5
NOT_ACCEPTED: Final = "the confirmation code was not accepted"
VOIDED: Final = (
    "too many wrong codes: this confirmation code is void. Remove the contact and "
    "add it again for a new code"
)
_ADDRESS: Final = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,255}$")


def _binding(contact_id: int) -> str:
    return f"contact:{contact_id}"


def listed(svc: Services, *, token: str) -> list[StoredContact]:
    """The subject's current contacts, confirmed or pending."""
    ctx = subject_sessions.current(svc, token)
    with svc.uow() as uow:
        return uow.contacts.current(ctx.subject.id)


def _normalized(kind: ContactKind, address: str) -> str:
    """The address as stored: an email as given (trimmed), a phone number in
    E.164. Raises InvalidInput saying what is expected."""
    address = address.strip()
    if kind == ContactKind.SMS:
        number = e164(address)
        if number is None:
            raise InvalidInput("give an international phone number, like +491701234567")
        return number
    if not _ADDRESS.fullmatch(address):
        raise InvalidInput("give an email address")
    return address


def _same(kind: ContactKind, stored: StoredContact, address: str) -> bool:
    if stored.kind != kind:
        return False
    if kind == ContactKind.SMS:
        return e164(stored.address) == address
    return stored.address.lower() == address.lower()


def add(svc: Services, *, token: str, address: str, kind: ContactKind = ContactKind.EMAIL) -> int:
    """Add an email contact or a phone number and send its confirmation code there;
    returns its id. Raises InvalidInput (bad or duplicate address, too many),
    ReauthenticationRequired, and for a phone number SmsBlocked (recent SIM swap)
    or Throttled (too many codes sent to the subject)."""
    ctx = subject_sessions.current(svc, token)
    address = _normalized(kind, address)
    now = svc.clock.now()
    subject = ctx.subject
    with svc.uow() as uow:
        require_fresh(ctx, now)
        current = uow.contacts.current(subject.id)
        if any(_same(kind, c, address) for c in current):
            raise InvalidInput("this address is already a contact")
        if len(current) >= MAX_CONTACTS:
            raise InvalidInput(f"at most {MAX_CONTACTS} recovery contacts; remove one first")
        if kind == ContactKind.SMS:
            _admit_text(svc, uow, subject, now)
        code = email_code.new_code()
        contact_id = uow.contacts.add(subject.id, kind, address, now=now)
        uow.contacts.set_confirmation(
            contact_id,
            email_code.code_digest(svc.mac_key, case_id=_binding(contact_id), code=code),
            expires_at=now + CONFIRM_TTL,
        )
        record(
            uow,
            EventType.CONTACT_ADDED,
            subject.id,
            now,
            data={"contact": contact_id, "kind": str(kind)},
        )
        minutes = int(CONFIRM_TTL.total_seconds() // 60)
        if kind == ContactKind.SMS:
            text = (
                f"Custos: {code} confirms this number as a recovery contact. Valid "
                f"{minutes} minutes. Never share it; nobody from IT will ask for it."
            )
            _text(svc, uow, subject, to=address, body=text, kind="contact_confirmation")
        else:
            message = enrolment_messages.contact_confirmation(
                to=address, display_name=subject.display_name, code=code, minutes=minutes
            )
            notices.queue(svc, uow, [message], subject_id=subject.id)
        uow.commit()
    return contact_id


def _text(
    svc: Services, uow: UnitOfWork, subject: Subject, *, to: str, body: str, kind: str
) -> None:
    """One text to one number, sent after ``uow`` commits."""
    sms.queue_texts(svc, uow, [SmsMessage(to=to, body=body, kind=kind)], subject_id=subject.id)


def _admit_text(svc: Services, uow: UnitOfWork, subject: Subject, now: datetime) -> None:
    """A confirmation text may go: no recent SIM swap (R-44), and the subject's
    code-send limits allow one more (R-20)."""
    if sms.sim_swap_recent(svc, uow, subject.id, now):
        raise SmsBlocked(
            "a phone number cannot be added now: the carrier reported a SIM swap or "
            f"number porting in the last {svc.settings.sim_swap_block_days} days"
        )
    refusal = throttles.admit_send(uow, who=throttles.subject_who(subject.id), source=None, now=now)
    if refusal is not None:
        raise Throttled(
            "too many codes were sent recently; try again later",
            retry_after_seconds=refusal.retry_after_s,
        )


def confirm(svc: Services, *, token: str, contact_id: int, code: str) -> None:
    """Confirm a pending contact with the code sent to it (R-14). Every try is
    counted before the code is checked; the MAX_CONFIRM_ATTEMPTS-th wrong one
    voids the code (a ledger event). Raises ProofingFailed for a wrong code (or
    a contact that is not the subject's, or not pending), CodeVoided once the
    code is void: removing the contact and adding it again sends a new one."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    subject_id = ctx.subject.id
    with svc.uow() as uow:
        stored = uow.contacts.get(contact_id)
        if (
            stored is None
            or stored.subject_id != subject_id
            or stored.confirmed
            or stored.removed_at is not None
        ):
            raise ProofingFailed(NOT_ACCEPTED)
        digest = stored.confirm_digest
        attempt = (
            None
            if digest is None
            else uow.limits.reserve_attempt(
                _attempts_key(contact_id), now=now, max_count=MAX_CONFIRM_ATTEMPTS
            )
        )
        if digest is None or attempt is None:
            raise CodeVoided(VOIDED)
        if email_code.code_matches(
            svc.mac_key, case_id=_binding(contact_id), code=code, digest=digest
        ) and uow.contacts.confirm(contact_id, now=now):
            uow.limits.clear(_attempts_key(contact_id))
            record(uow, EventType.CONTACT_CONFIRMED, subject_id, now, data={"contact": contact_id})
            uow.commit()
            return
        if attempt < MAX_CONFIRM_ATTEMPTS:
            uow.commit()  # the failed try stays counted
            raise ProofingFailed(NOT_ACCEPTED)
        uow.contacts.void_confirmation(contact_id)
        uow.limits.clear(_attempts_key(contact_id))
        record(
            uow,
            EventType.CONTACT_CODE_VOIDED,
            subject_id,
            now,
            data={"contact": contact_id, "attempts": attempt},
            reason="too many wrong confirmation codes",
            outcome=Outcome.DENIED,
        )
        uow.commit()
    raise CodeVoided(VOIDED)


def _attempts_key(contact_id: int) -> str:
    return f"contact-confirm:{contact_id}"


def remove(svc: Services, *, token: str, contact_id: int) -> None:
    """Remove a contact; a confirmed one is told so at its (old) address (R-23)."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    subject = ctx.subject
    with svc.uow() as uow:
        require_fresh(ctx, now)
        stored = uow.contacts.get(contact_id)
        if (
            stored is None
            or stored.subject_id != subject.id
            or not uow.contacts.remove(contact_id, now=now)
        ):
            raise NotFound("no such contact")
        record(uow, EventType.CONTACT_REMOVED, subject.id, now, data={"contact": contact_id})
        if stored.confirmed:
            _tell_removed(svc, uow, subject, stored, now)
        uow.commit()


def _tell_removed(
    svc: Services, uow: UnitOfWork, subject: Subject, stored: StoredContact, now: datetime
) -> None:
    """R-23: the removed address or number learns it was removed, on itself."""
    if stored.kind == ContactKind.SMS:
        text = (
            f"Custos: this number was removed as a recovery contact on {when(now)}. "
            "If that was not you, contact your IT help desk."
        )
        _text(svc, uow, subject, to=stored.address, body=text, kind="contact_changed")
        return
    message = enrolment_messages.contact_changed(
        to=stored.address,
        display_name=subject.display_name,
        change="this address was removed as a recovery contact",
        at=now,
    )
    notices.queue(svc, uow, [message], subject_id=subject.id)


def replace(
    svc: Services,
    *,
    token: str,
    contact_id: int,
    address: str,
    kind: ContactKind = ContactKind.EMAIL,
) -> int:
    """Change a contact: the new address gets a code, the old one is removed and
    told (R-23). Returns the new contact's id."""
    new_id = add(svc, token=token, address=address, kind=kind)
    remove(svc, token=token, contact_id=contact_id)
    return new_id
