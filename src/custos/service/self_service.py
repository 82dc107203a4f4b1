"""Self-service recovery for subjects: start, ask for a code, prove, redeem.

Every unauthenticated step answers the same whether or not the account exists
(R-19): ``start`` only stores an opaque flow and does the same work for any
identifier; the subject behind it is resolved at the next step, and an unknown
one fails exactly like a wrong code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from custos.bootstrap import Services
from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.errors import AlreadyDecided, InvalidInput, ProofingFailed, Throttled
from custos.domain.model import Channel, ProofRecord, subject_actor
from custos.domain.states import CaseState
from custos.proofing.base import METHODS
from custos.service import credentials, proofing
from custos.service.case_transaction import case_transaction
from custos.service.opening import open_case
from custos.store.credential_repository import StoredFlow
from custos.store.unit_of_work import UnitOfWork

FLOW_PREFIX = "cfl"
FLOW_TTL = timedelta(hours=1)
MAX_IDENTIFIER = 254
GENERIC_FAILURE = "the code was not accepted"


@dataclass(frozen=True, slots=True)
class SelfServiceProof:
    status: str
    replacement_recovery_code: str | None = None


def start(svc: Services, *, identifier: str, source_address: str | None) -> str:
    """Record a recovery request and return its flow handle (shown once to the
    caller; only its digest is stored). Same work for known and unknown accounts."""
    identifier = identifier.strip()
    if not identifier or len(identifier) > MAX_IDENTIFIER:
        raise InvalidInput(f"give an account name of 1 to {MAX_IDENTIFIER} characters")
    handle = issue_token(FLOW_PREFIX)
    now = svc.clock.now()
    with svc.uow() as uow:
        uow.flows.add(
            handle.digest,
            identifier=identifier,
            source_address=source_address,
            now=now,
            expires_at=now + FLOW_TTL,
        )
        uow.commit()
    return handle.plain


def resolve_pending(svc: Services, handle_digest: str) -> str | None:
    """Open the case behind a pending flow (idempotent); returns its case id or None
    when the identifier matches no subject or the case was refused."""
    now = svc.clock.now()
    with svc.uow() as uow:
        flow = uow.flows.get(handle_digest)
        if flow is None:
            return None
        if flow.state != "pending":
            return flow.case_id
        case_id = _resolve(svc, uow, flow, now)
        uow.commit()
        return case_id


def _resolve(svc: Services, uow: UnitOfWork, flow: StoredFlow, now: datetime) -> str | None:
    subject = uow.subjects.find(flow.identifier)
    if subject is None:
        uow.flows.resolve(flow.handle_digest, state="unknown", subject_id=None, case_id=None)
        return None
    case = open_case(
        svc,
        uow,
        subject=subject,
        channel=Channel.SELF_SERVICE,
        reason="self-service recovery request",
        requested_by=subject_actor(subject.id),
        requester_person=subject.id,
        source_address=flow.source_address,
        now=now,
    )
    state = "open" if case.state == CaseState.PROOFING else "refused"
    uow.flows.resolve(flow.handle_digest, state=state, subject_id=subject.id, case_id=case.id)
    return case.id if state == "open" else None


def _case_of(svc: Services, handle: str) -> str | None:
    if not looks_like_token(handle):
        return None
    digest = token_digest(handle)
    with svc.uow() as uow:
        flow = uow.flows.get(digest)
    if flow is None or flow.expires_at <= svc.clock.now():
        return None
    return (
        resolve_pending(svc, digest)
        if flow.state == "pending"
        else (flow.case_id if flow.state == "open" else None)
    )


def request_email_code(svc: Services, *, handle: str) -> None:
    """Send a code to the subject's confirmed email contacts if there is a case that
    allows it; otherwise do nothing. The caller learns nothing either way."""
    case_id = _case_of(svc, handle)
    if case_id is None:
        return
    try:
        with case_transaction(svc, case_id) as txn:
            if txn.case.state != CaseState.PROOFING:
                return
            proofing.send_email_code(
                svc,
                txn.uow,
                case=txn.case,
                subject=txn.subject,
                actor=subject_actor(txn.subject.id),
                now=txn.now,
            )
            txn.save_and_commit()
    except (Throttled, AlreadyDecided):
        return  # a flood is absorbed silently; the ledger holds the codes sent


def submit_proof(svc: Services, *, handle: str, method: str, response: str) -> SelfServiceProof:
    """Check one piece of evidence. Raises ProofingFailed (one message for a wrong
    code, an unknown account or a closed case) or Throttled."""
    if method not in METHODS:
        raise InvalidInput(f"unknown proofing method '{method}'", known=sorted(METHODS))
    case_id = _case_of(svc, handle)
    if case_id is None:
        proofing.equalise_unknown(method)
        raise ProofingFailed(GENERIC_FAILURE)
    with case_transaction(svc, case_id) as txn:
        case = txn.case
        if case.state != CaseState.PROOFING or method not in case.requirements.methods:
            raise ProofingFailed(GENERIC_FAILURE)
        try:
            proofing.check_throttle(txn.uow, case, method, txn.now)
        except Throttled:
            txn.save_and_commit()
            raise
        verdict = proofing.verify(
            svc,
            txn.uow,
            case=case,
            subject=txn.subject,
            method=method,
            response=response,
            now=txn.now,
        )
        proofing.record_outcome(txn.uow, txn.subject.id, method, verdict.passed, txn.now)
        case.record_proof(
            ProofRecord(
                method=method,
                passed=verdict.passed,
                at=txn.now,
                actor=subject_actor(txn.subject.id),
                phishing_resistant=METHODS[method].phishing_resistant,
            )
        )
        if case.state in (CaseState.APPROVED,):  # record_proof may have moved it
            # Nobody else is in the loop: Custos executes a self-service case itself.
            credentials.issue(
                svc, txn.uow, case=case, subject=txn.subject, executor=None, now=txn.now
            )
        txn.save_and_commit()
        state = case.state
    if not verdict.passed:
        raise ProofingFailed(GENERIC_FAILURE)
    return SelfServiceProof(
        status=_status(state), replacement_recovery_code=verdict.replacement_code
    )


def _status(state: CaseState) -> str:
    return {
        CaseState.PROOFING: "more_proof_required",
        CaseState.AWAITING_APPROVAL: "awaiting_approval",
        CaseState.CREDENTIAL_ISSUED: "link_sent",
    }.get(state, str(state))


def sweep_pending_flows(svc: Services, limit: int = 100) -> int:
    """Resolve flows nobody followed up, so every request leaves a case and events."""
    with svc.uow() as uow:
        pending = uow.flows.pending(limit)
    for digest in pending:
        resolve_pending(svc, digest)
    return len(pending)
