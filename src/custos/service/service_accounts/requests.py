"""An owner asks for the rotation of a service account they own, and proves
who they are with their OWN enrolled factors (a person proofed as a person):
the case's evidence is checked against the owner, never against the service
account's mailbox. The tier's approvals then apply as for any case (R-32,
R-33); the approver is never the owner who asked."""

from __future__ import annotations

from datetime import datetime

from custos.domain.errors import (
    AlreadyDecided,
    InvalidInput,
    NotFound,
    ProofingFailed,
    Throttled,
)
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import (
    Case,
    Channel,
    ProofRecord,
    Subject,
    SubjectKind,
    subject_actor,
)
from custos.domain.states import CaseState
from custos.proofing.base import METHODS
from custos.service.ports import Services
from custos.service.recovery import proofing
from custos.service.recovery.case_transaction import CaseTxn, case_transaction
from custos.service.recovery.cases import raise_if_refused
from custos.service.recovery.opening import open_case
from custos.service.service_accounts.errors import (
    NotAServiceAccount,
    NotServiceOwner,
    OwnerNotAPerson,
)
from custos.store.unit_of_work import UnitOfWork


def owners_of(service: Subject) -> tuple[str, ...]:
    """Every owner of ``service`` (``owners``, else the single ``owner``)."""
    if service.owners:
        return service.owners
    return (service.owner,) if service.owner else ()


def request_rotation(
    svc: Services,
    *,
    owner_id: str,
    service_id: str,
    reason: str,
    source_address: str | None = None,
) -> Case:
    """Open an owner_request case for ``service_id`` on behalf of ``owner_id``
    (already signed in as themselves). Raises NotFound, NotAServiceAccount,
    OwnerNotAPerson, NotServiceOwner (recorded in the ledger), and as a help-desk
    case does: RecoveryBlocked, RecoveryRefused, ChannelNotAllowed."""
    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise InvalidInput("a rotation request needs a reason of 1-2000 characters")
    now = svc.clock.now()
    with svc.uow() as uow:
        service = _service(uow, service_id)
        owner = _person(uow, owner_id)
        if owner_id not in owners_of(service):
            _refuse(uow, service, owner_id, now, "not an owner of the service account")
            uow.commit()
            raise NotServiceOwner(
                f"only an owner of service account '{service_id}' may request its rotation",
                subject_id=service_id,
            )
        case = open_case(
            svc,
            uow,
            subject=service,
            channel=Channel.OWNER_REQUEST,
            reason=reason,
            requested_by=subject_actor(owner.id),
            requester_person=owner.id,
            source_address=source_address,
            now=now,
        )
        uow.commit()
    raise_if_refused(case, service, requester_person=owner.id)
    return case


def send_owner_code(svc: Services, *, owner_id: str, case_id: str) -> bool:
    """Send a one-time code to the OWNER's confirmed email contacts (R-13, R-15)."""
    with case_transaction(svc, case_id) as txn:
        owner = _owner_on_case(txn, owner_id)
        sent = proofing.send_email_code(
            svc, txn.uow, case=txn.case, subject=owner, actor=subject_actor(owner_id), now=txn.now
        )
        txn.save_and_commit()
    return sent


def prove_owner(
    svc: Services, *, owner_id: str, case_id: str, method: str, response: str
) -> CaseState:
    """Check the owner's evidence (their TOTP, the code sent to them) against the
    OWNER's enrolments and record it on the case. Raises ProofingFailed after
    recording a wrong answer, Throttled while paused, NotServiceOwner."""
    with case_transaction(svc, case_id) as txn:
        case, now = txn.case, txn.now
        owner = _owner_on_case(txn, owner_id)
        if case.state != CaseState.PROOFING:
            raise AlreadyDecided(
                f"case {case.id} is not collecting evidence (state '{case.state}')"
            )
        if method not in case.requirements.methods:
            raise InvalidInput(
                f"method '{method}' is not allowed by tier '{case.requirements.tier}'",
                allowed=sorted(case.requirements.methods),
            )
        try:
            proofing.check_throttle(txn.uow, case, method, now)
        except Throttled:
            txn.save_and_commit()
            raise
        verdict = proofing.verify(
            svc, txn.uow, case=case, subject=owner, method=method, response=response, now=now
        )
        proofing.record_outcome(txn.uow, case.subject_id, method, verdict.passed, now)
        case.record_proof(
            ProofRecord(
                method=method,
                passed=verdict.passed,
                at=now,
                actor=subject_actor(owner_id),
                phishing_resistant=METHODS[method].phishing_resistant,
                kind=METHODS[method].kind,
            )
        )
        txn.save_and_commit()
        state = case.state
    if not verdict.passed:
        raise ProofingFailed("the evidence did not match", case_id=case_id, state=str(state))
    return state


def _owner_on_case(txn: CaseTxn, owner_id: str) -> Subject:
    """The owner, when ``txn``'s case is an owner_request case of a service account
    they own today. Raises NotServiceOwner (recorded) otherwise."""
    if txn.case.channel != Channel.OWNER_REQUEST or owner_id not in owners_of(txn.subject):
        _refuse(txn.uow, txn.subject, owner_id, txn.now, "not an owner of the service account")
        txn.uow.commit()
        raise NotServiceOwner(
            f"only an owner of service account '{txn.subject.id}' may confirm its rotation",
            case_id=txn.case.id,
        )
    return _person(txn.uow, owner_id)


def _service(uow: UnitOfWork, service_id: str) -> Subject:
    service = uow.subjects.get(service_id)
    if service is None:
        raise NotFound(f"no subject '{service_id}'", subject_id=service_id)
    if service.kind != SubjectKind.SERVICE:
        raise NotAServiceAccount(f"'{service_id}' is not a service account", subject_id=service_id)
    return service


def _person(uow: UnitOfWork, owner_id: str) -> Subject:
    owner = uow.subjects.get(owner_id)
    if owner is None or owner.kind != SubjectKind.HUMAN:
        raise OwnerNotAPerson(f"'{owner_id}' is not a person Custos knows", owner_id=owner_id)
    return owner


def _refuse(uow: UnitOfWork, service: Subject, who: str, now: datetime, why: str) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=EventType.SERVICE_ROTATION_REFUSED,
                occurred_at=now,
                actor=subject_actor(who),
                subject_id=service.id,
                case_id=None,
                outcome=Outcome.DENIED,
                reason=why,
            )
        ]
    )
