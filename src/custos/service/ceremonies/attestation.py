"""Manager or sponsor attestation: an out-of-band link to the subject's manager
(or a contractor's sponsor) who attests or refuses the recovery request.

The link (``cat_`` token, 256 bits) is stored as a digest, lives 24 hours,
works once and is bound to one case. Its page shows who asks and why (case id,
subject display name, channel, reason, time), never a secret. An attestation
is one passed ``manager_attestation`` proof on the case; a refusal is a failed
one and alerts security. The attester is never the subject, the requester, nor
the person who asked for the attestation (``domain/attestation.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog

from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain import attestation as rules
from custos.domain import sod
from custos.domain.errors import AlreadyDecided, InvalidInput, Throttled, TokenInvalid
from custos.domain.events import EventType, Outcome
from custos.domain.model import (
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
from custos.proofing.base import METHODS
from custos.service.notices import dispatch as notices
from custos.service.notices.webhooks import queue_security_webhook
from custos.service.ports import Services
from custos.service.recovery import credentials
from custos.service.recovery.case_transaction import case_transaction
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.attestation")

METHOD: Final = "manager_attestation"
LINK_PREFIX: Final = "cat"
TTL: Final = timedelta(hours=24)
DECISIONS: Final = frozenset({"attest", "refuse"})
INVALID_LINK: Final = "this attestation link is not valid any more"


@dataclass(frozen=True, slots=True)
class AttestationView:
    """What the attester sees: who asks and why; never a secret."""

    case_id: str
    display_name: str
    relation: str
    channel: str
    reason: str
    requested_at: datetime
    expires_at: datetime


def request(svc: Services, operator: Operator, case_id: str) -> str:
    """An agent asks the subject's manager or sponsor to attest. Returns the
    relation asked (``manager`` or ``sponsor``). Raises NotAuthorized,
    OutOfScope, SeparationOfDuties, AlreadyDecided (case not in proofing),
    InvalidInput (tier forbids the method, no attester with a confirmed email,
    a live request already waiting)."""
    with case_transaction(svc, case_id, operator=operator, action="attestation") as txn:
        sod.check_role(operator, Role.REQUESTER)
        sod.check_scope(operator, txn.subject)
        sod.check_not_subject(operator, txn.subject)
        relation = request_for_case(
            svc,
            txn.uow,
            case=txn.case,
            subject=txn.subject,
            actor=operator.actor,
            asked_by_person=operator.person,
            now=txn.now,
        )
        txn.save_and_commit()
    return relation


def request_for_case(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject: Subject,
    actor: str,
    asked_by_person: str | None,
    now: datetime,
) -> str:
    """Issue the link inside ``uow`` (the caller saves the case and commits);
    the mail leaves after the commit. Returns the relation; raises as
    :func:`request` does, and Throttled past the policy's caps."""
    if case.state != CaseState.PROOFING:
        raise AlreadyDecided(f"case {case.id} is not collecting evidence (state '{case.state}')")
    if METHOD not in case.requirements.methods:
        raise InvalidInput(f"tier '{case.requirements.tier}' does not allow {METHOD}")
    found = rules.attester_of(subject)
    if found is None:
        raise InvalidInput(f"subject '{subject.id}' has no manager or sponsor on record")
    relation, attester_id = found
    rules.check_attester(
        attester_id,
        subject_id=subject.id,
        requester_person=case.requester_person,
        asked_by_person=asked_by_person,
    )
    attester = uow.subjects.get(attester_id)
    contacts = [] if attester is None else attester.confirmed_contacts(ContactKind.EMAIL)
    if attester is None or not contacts:
        raise InvalidInput(f"the {relation} of '{subject.id}' has no confirmed email contact")
    if uow.attestations.live_count(case.id, now):
        raise InvalidInput("an attestation request for this case is already waiting")
    _within_caps(
        svc, uow, subject_id=subject.id, attester_id=attester_id, relation=relation, now=now
    )
    token = issue_token(LINK_PREFIX)
    uow.attestations.add(
        case_id=case.id,
        attester_id=attester_id,
        relation=relation,
        requested_by=actor,
        digest=token.digest,
        now=now,
        expires_at=now + TTL,
    )
    case.emit(
        EventType.ATTESTATION_REQUESTED,
        at=now,
        actor=actor,
        data={
            "relation": relation,
            "attester": attester_id,
            "expires_in_s": int(TTL.total_seconds()),
        },
    )
    link = f"{svc.settings.public_origin}/attest#token={token.plain}"
    batch = [
        messages.attestation_request(
            to=c.address,
            case_id=case.id,
            display_name=subject.display_name,
            relation=relation,
            channel=str(case.channel),
            reason=case.reason,
            at=now,
            link=link,
            hours=int(TTL.total_seconds() // 3600),
        )
        for c in contacts
    ]
    notices.queue(svc, uow, batch, subject_id=subject.id)
    return relation


def _within_caps(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject_id: str,
    attester_id: str,
    relation: str,
    now: datetime,
) -> None:
    """Raise Throttled when the policy's caps on attestation mails are reached:
    per subject recovered and per attester asked, within the policy's window
    (``defaults.attestation_requests``), so nobody can make Custos mail a
    manager or sponsor without end."""
    caps = svc.policy.document.defaults.attestation_requests
    since = now - caps.window
    hours = int(caps.window.total_seconds() // 3600)
    if uow.attestations.issued_since(since, subject_id=subject_id) >= caps.per_subject:
        raise Throttled(
            f"{caps.per_subject} attestation request(s) for '{subject_id}' within "
            f"{hours} h already; ask again later",
            retry_after_seconds=int(caps.window.total_seconds()),
            limit="attestation_per_subject",
        )
    if uow.attestations.issued_since(since, attester_id=attester_id) >= caps.per_attester:
        raise Throttled(
            f"the {relation} of '{subject_id}' was asked {caps.per_attester} time(s) within "
            f"{hours} h already; ask again later",
            retry_after_seconds=int(caps.window.total_seconds()),
            limit="attestation_per_attester",
        )


def lookup(svc: Services, *, token: str) -> AttestationView:
    """What the link's page shows. Raises TokenInvalid (one message for an
    unknown, spent or expired link)."""
    if not looks_like_token(token, prefix=LINK_PREFIX):
        raise TokenInvalid(INVALID_LINK)
    now = svc.clock.now()
    with svc.uow() as uow:
        stored = uow.attestations.by_digest(token_digest(token))
        if stored is None or stored.decided_at is not None or stored.expires_at <= now:
            raise TokenInvalid(INVALID_LINK)
        case = uow.cases.get(stored.case_id)
        subject = uow.subjects.get(case.subject_id)
    assert subject is not None
    return AttestationView(
        case_id=case.id,
        display_name=subject.display_name,
        relation=stored.relation,
        channel=messages.CHANNEL_LABELS.get(str(case.channel), str(case.channel)),
        reason=case.reason,
        requested_at=stored.issued_at,
        expires_at=stored.expires_at,
    )


def decide(svc: Services, *, token: str, decision: str) -> str:
    """Spend the link with ``decision`` (``attest`` or ``refuse``) and record it
    on the case. Returns the case state afterwards. Raises InvalidInput for
    another decision, TokenInvalid for a bad, spent or expired link or a case
    no longer collecting evidence."""
    if decision not in DECISIONS:
        raise InvalidInput("the decision is 'attest' or 'refuse'")
    if not looks_like_token(token, prefix=LINK_PREFIX):
        raise TokenInvalid(INVALID_LINK)
    with svc.uow() as uow:
        stored = uow.attestations.by_digest(token_digest(token))
        case_id = None if stored is None else stored.case_id
    if stored is None or case_id is None:
        raise TokenInvalid(INVALID_LINK)
    if stored.decided_at is not None or stored.expires_at <= svc.clock.now():
        raise TokenInvalid(INVALID_LINK)  # before the case: an expired case answers the same
    with case_transaction(svc, case_id) as txn:
        case, now = txn.case, txn.now
        if case.state != CaseState.PROOFING or METHOD not in case.requirements.methods:
            raise TokenInvalid(INVALID_LINK)
        rules.check_attester(
            stored.attester_id,
            subject_id=case.subject_id,
            requester_person=case.requester_person,
            asked_by_person=None,
        )
        if not txn.uow.attestations.decide(stored.id, decision=decision, now=now):
            raise TokenInvalid(INVALID_LINK)
        attested = decision == "attest"
        actor = subject_actor(stored.attester_id)
        case.emit(
            EventType.ATTESTATION_ATTESTED if attested else EventType.ATTESTATION_REFUSED,
            at=now,
            actor=actor,
            outcome=Outcome.SUCCESS if attested else Outcome.DENIED,
            data={"relation": stored.relation, "attester": stored.attester_id},
        )
        case.record_proof(
            ProofRecord(
                method=METHOD,
                passed=attested,
                at=now,
                actor=actor,
                phishing_resistant=METHODS[METHOD].phishing_resistant,
                kind=METHODS[METHOD].kind,
            )
        )
        if case.state in (CaseState.APPROVED,) and case.channel == Channel.SELF_SERVICE:
            # A self-service case has nobody else in the loop: Custos executes it.
            credentials.issue(svc, txn.uow, case=case, subject=txn.subject, executor=None, now=now)
        if not attested:
            _alert_security(
                svc,
                txn.uow,
                case=case,
                attester_id=stored.attester_id,
                relation=stored.relation,
                now=now,
            )
        txn.save_and_commit()
        return str(case.state)


def _alert_security(
    svc: Services, uow: UnitOfWork, *, case: Case, attester_id: str, relation: str, now: datetime
) -> None:
    address = svc.settings.security_address
    if address is None:
        log.warning("security_address_unset", case=case.id, alert="attestation_refused")
    else:
        alert = messages.attestation_refused(
            to=address,
            case_id=case.id,
            subject_id=case.subject_id,
            attester_id=attester_id,
            relation=relation,
            at=now,
            state=str(case.state),
        )
        notices.queue(svc, uow, [alert], subject_id=case.subject_id)
    payload = {
        "type": str(EventType.ATTESTATION_REFUSED),
        "time": now.isoformat(),
        "case": case.id,
        "subject": case.subject_id,
        "attester": attester_id,
        "relation": relation,
        "state": str(case.state),
    }
    queue_security_webhook(
        svc,
        uow,
        kind="attestation_refused",
        payload=payload,
        subject_id=case.subject_id,
        case_id=case.id,
    )
