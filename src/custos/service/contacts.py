"""Recovery contacts managed by the subject (R-14, R-22, R-23, R-27).

An added address receives an 8-digit confirmation code (HMAC-stored, one hour,
single use) and counts for recovery only once the code came back (R-14). Up to
MAX_CONTACTS addresses (at least two, R-14). Removing a contact, or replacing
one (remove and add), tells the OLD address (R-23). Every change needs a fresh
re-authentication (R-27) and is a ledger event.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from custos.bootstrap import Services
from custos.domain.errors import InvalidInput, NotFound, ProofingFailed
from custos.domain.events import EventType
from custos.domain.model import ContactKind
from custos.notify import enrolment_messages
from custos.proofing import email_code
from custos.service import notices, subject_sessions
from custos.service.self_management import record, require_fresh
from custos.store.contact_repository import StoredContact

MAX_CONTACTS: Final = 5
CONFIRM_TTL: Final = timedelta(hours=1)
_ADDRESS: Final = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,255}$")


def _binding(contact_id: int) -> str:
    return f"contact:{contact_id}"


def listed(svc: Services, *, token: str) -> list[StoredContact]:
    """The subject's current contacts, confirmed or pending."""
    ctx = subject_sessions.current(svc, token)
    with svc.uow() as uow:
        return uow.contacts.current(ctx.subject.id)


def add(svc: Services, *, token: str, address: str) -> int:
    """Add an email contact and send its confirmation code there; returns its id.
    Raises InvalidInput (bad or duplicate address, too many), ReauthenticationRequired."""
    ctx = subject_sessions.current(svc, token)
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        raise InvalidInput("give an email address")
    now = svc.clock.now()
    subject = ctx.subject
    with svc.uow() as uow:
        require_fresh(ctx, now)
        current = uow.contacts.current(subject.id)
        if any(c.address.lower() == address.lower() for c in current):
            raise InvalidInput("this address is already a contact")
        if len(current) >= MAX_CONTACTS:
            raise InvalidInput(f"at most {MAX_CONTACTS} recovery contacts; remove one first")
        code = email_code.new_code()
        contact_id = uow.contacts.add(subject.id, ContactKind.EMAIL, address, now=now)
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
            data={"contact": contact_id, "kind": "email"},
        )
        message = enrolment_messages.contact_confirmation(
            to=address,
            display_name=subject.display_name,
            code=code,
            minutes=int(CONFIRM_TTL.total_seconds() // 60),
        )
        notices.queue(svc, uow, [message], subject_id=subject.id)
        uow.commit()
    return contact_id


def confirm(svc: Services, *, token: str, contact_id: int, code: str) -> None:
    """Confirm a pending contact with the code sent to it (R-14). Raises ProofingFailed."""
    ctx = subject_sessions.current(svc, token)
    now = svc.clock.now()
    with svc.uow() as uow:
        stored = uow.contacts.get(contact_id)
        if (
            stored is None
            or stored.subject_id != ctx.subject.id
            or stored.confirm_digest is None
            or not email_code.code_matches(
                svc.mac_key, case_id=_binding(contact_id), code=code, digest=stored.confirm_digest
            )
            or not uow.contacts.confirm(contact_id, now=now)
        ):
            raise ProofingFailed("the confirmation code was not accepted")
        record(uow, EventType.CONTACT_CONFIRMED, ctx.subject.id, now, data={"contact": contact_id})
        uow.commit()


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
            notices.queue(
                svc,
                uow,
                [
                    enrolment_messages.contact_changed(
                        to=stored.address,
                        display_name=subject.display_name,
                        change="this address was removed as a recovery contact",
                        at=now,
                    )
                ],
                subject_id=subject.id,
            )
        uow.commit()


def replace(svc: Services, *, token: str, contact_id: int, address: str) -> int:
    """Change a contact: the new address gets a code, the old one is removed and
    told (R-23). Returns the new contact's id."""
    new_id = add(svc, token=token, address=address)
    remove(svc, token=token, contact_id=contact_id)
    return new_id
