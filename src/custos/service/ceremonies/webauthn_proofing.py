"""WebAuthn as case proofing (phishing-resistant): the subject's own browser
answers a challenge bound to the case.

* Self-service: the flow's browser asks for options and posts the assertion as
  a proof of method ``webauthn``. A flow with no case behind it gets decoy
  options of the same shape (R-19).
* Help desk: the agent sends a one-time link (10 minutes, stored hashed) to the
  subject's confirmed contacts; the subject opens it on their own device, which
  asks for options and posts the assertion. The agent sees pass or fail only.

User verification is required when the tier demands a phishing-resistant factor
or the subject is privileged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain import sod
from custos.domain.errors import AlreadyDecided, InvalidInput, ProofingFailed, TokenInvalid
from custos.domain.events import EventType
from custos.domain.model import Case, Operator, Role, Subject
from custos.domain.states import CaseState
from custos.notify import enrolment_messages
from custos.service.ceremonies import webauthn_ceremonies
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery import cases, self_service
from custos.service.recovery.case_transaction import case_transaction

LINK_PREFIX: Final = "cwl"
LINK_TTL: Final = timedelta(minutes=10)
LINK = "case_link"


def requires_uv(case: Case, subject: Subject) -> bool:
    return case.requirements.phishing_resistant or subject.privileged


def _accepts_webauthn(case: Case) -> bool:
    return case.state == CaseState.PROOFING and "webauthn" in case.requirements.methods


def case_options(svc: Services, case_id: str) -> dict[str, Any] | None:
    """Request options bound to the case, or None when it takes no WebAuthn now."""
    with case_transaction(svc, case_id) as txn:
        if not _accepts_webauthn(txn.case):
            return None
        options = webauthn_ceremonies.begin_assertion(
            svc,
            txn.uow,
            subject=txn.subject,
            purpose=webauthn_ceremonies.CASE,
            require_uv=requires_uv(txn.case, txn.subject),
            now=txn.now,
            case_id=txn.case.id,
        )
        txn.uow.commit()
    return options


def self_service_options(svc: Services, *, handle: str) -> dict[str, Any]:
    """Options for a self-service flow; decoy options when there is no case that
    takes WebAuthn (same status and shape, R-19)."""
    case_id = self_service.case_of_flow(svc, handle)
    options = case_options(svc, case_id) if case_id is not None else None
    return options if options is not None else webauthn_ceremonies.decoy_options(svc, handle)


def send_link(svc: Services, operator: Operator, case_id: str) -> int:
    """Mail a one-time WebAuthn link to the subject's confirmed contacts; returns
    the number of recipients. Raises AlreadyDecided, InvalidInput (no credential,
    no contact, method not allowed), NotAuthorized, OutOfScope."""
    with case_transaction(svc, case_id, operator=operator, action="webauthn_link") as txn:
        sod.check_role(operator, Role.REQUESTER)
        sod.check_scope(operator, txn.subject)
        sod.check_not_subject(operator, txn.subject)
        if txn.case.state != CaseState.PROOFING:
            raise AlreadyDecided(f"case {case_id} is not collecting evidence")
        if "webauthn" not in txn.case.requirements.methods:
            raise InvalidInput(f"tier '{txn.case.requirements.tier}' does not allow webauthn")
        contacts = txn.subject.confirmed_contacts()
        if not txn.uow.authenticators.credentials(txn.subject.id) or not contacts:
            raise InvalidInput("the subject has no WebAuthn credential or no confirmed contact")
        link = issue_token(LINK_PREFIX)
        txn.uow.authenticators.add_challenge(
            link.digest,
            purpose=LINK,
            subject_id=txn.subject.id,
            case_id=case_id,
            user_verification=requires_uv(txn.case, txn.subject),
            now=txn.now,
            expires_at=txn.now + LINK_TTL,
        )
        url = f"{svc.settings.public_origin}/webauthn#link={link.plain}"
        minutes = int(LINK_TTL.total_seconds() // 60)
        batch = [
            enrolment_messages.webauthn_link(
                to=c.address, case_id=case_id, link=url, minutes=minutes
            )
            for c in contacts
        ]
        notices.queue(svc, txn.uow, batch, subject_id=txn.subject.id)
        txn.case.emit(
            EventType.WEBAUTHN_LINK_SENT,
            at=txn.now,
            actor=operator.actor,
            data={"contacts": len(contacts), "expires_in_s": int(LINK_TTL.total_seconds())},
        )
        txn.save_and_commit()
    return len(batch)


def link_options(svc: Services, *, link: str) -> dict[str, Any]:
    """Options for the case behind a live link. Raises TokenInvalid."""
    options = case_options(svc, _case_of_link(svc, link))
    if options is None:
        raise TokenInvalid("this link is no longer valid")
    return options


def link_proof(svc: Services, *, link: str, response: str) -> CaseState:
    """Record the subject's assertion as a ``webauthn`` proof of the case behind the
    link; returns the case state. The link is used up when the proof passes.
    Raises TokenInvalid, ProofingFailed, Throttled."""
    case_id = _case_of_link(svc, link)
    passed, state = cases.record_subject_proof(svc, case_id, method="webauthn", response=response)
    if not passed:
        raise ProofingFailed("the security key did not confirm", case_id=case_id)
    with svc.uow() as uow:
        uow.authenticators.take_challenge(
            token_digest(link), purpose=LINK, now=svc.clock.now(), case_id=case_id
        )
        uow.commit()
    return state


def _case_of_link(svc: Services, link: str) -> str:
    if not looks_like_token(link, prefix=LINK_PREFIX):
        raise TokenInvalid("this link is not valid")
    with svc.uow() as uow:
        found = uow.authenticators.live_challenge(
            token_digest(link), purpose=LINK, now=svc.clock.now()
        )
    if found is None or found.case_id is None:
        raise TokenInvalid("this link is not valid or has expired")
    return found.case_id
