"""Self-service recovery for subjects: start, ask for a code, prove, redeem.

Every unauthenticated step answers the same whether or not the account exists
(R-19): ``start`` only stores an opaque flow and does the same work for any
identifier; the subject behind it is resolved at the next step, and an unknown
one fails exactly like a wrong code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from custos.credentials.tokens import issue_token, looks_like_token, token_digest
from custos.domain.errors import (
    AlreadyDecided,
    DomainError,
    InvalidInput,
    ProofingFailed,
    Throttled,
)
from custos.domain.model import REPROOFING, Case, Channel, ProofRecord, Subject, subject_actor
from custos.domain.states import CaseState
from custos.proofing.base import METHODS
from custos.service.ceremonies import attestation
from custos.service.notices import sms
from custos.service.ports import Services
from custos.service.recovery import credentials, offered_methods, proofing, refusals
from custos.service.recovery.case_transaction import case_transaction
from custos.service.recovery.opening import open_case
from custos.service.signals import throttles
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
    #: After a passed proof that does not yet suffice: what can still count
    #: (offered_methods.still_open); empty otherwise.
    methods: tuple[str, ...] = ()


def start(
    svc: Services,
    *,
    identifier: str,
    source_address: str | None,
    device_digest: str | None = None,
) -> str:
    """Record a recovery request and return its flow handle (shown once to the
    caller; only its digest is stored). Same work for known and unknown accounts.
    Raises Throttled when the source started too many recoveries (R-20), whatever
    the identifier."""
    identifier = identifier.strip()
    if not identifier or len(identifier) > MAX_IDENTIFIER:
        raise InvalidInput(f"give an account name of 1 to {MAX_IDENTIFIER} characters")
    handle = issue_token(FLOW_PREFIX)
    now = svc.clock.now()
    with svc.uow() as uow:
        refusal = throttles.admit_start(uow, source=source_address, now=now)
        if refusal is not None:
            raise proofing.throttled(refusal)
        uow.flows.add(
            handle.digest,
            identifier=identifier,
            source_address=source_address,
            now=now,
            expires_at=now + FLOW_TTL,
            device_digest=device_digest,
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
        try:
            case_id = _resolve(svc, uow, flow, now)
        except _FlowTaken:
            # Another process (a worker's sweep, the other API process) settled
            # the flow between our read and our write: its case stands, ours is
            # rolled back with its events (leaving the block without a
            # commit), so a flow never leaves two cases.
            pass
        else:
            uow.commit()
            return case_id
    with svc.uow() as uow:
        settled = uow.flows.get(handle_digest)
    return settled.case_id if settled is not None else None


class _FlowTaken(Exception):
    """The pending flow was settled by someone else meanwhile."""


def _resolve(svc: Services, uow: UnitOfWork, flow: StoredFlow, now: datetime) -> str | None:
    subject = uow.subjects.find(flow.identifier)
    if subject is None:
        # Only a keyed digest stays: it throttles the unknown identifier exactly
        # like a real account.
        anonymous = throttles.anonymous_who(svc.mac_key, flow.identifier)
        if not uow.flows.resolve(
            flow.handle_digest,
            state="unknown",
            subject_id=None,
            case_id=None,
            identifier=anonymous,
        ):
            raise _FlowTaken
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
        device_digest=flow.device_digest,
        flow_digest=flow.handle_digest,
    )
    state = "open" if case.state == CaseState.PROOFING else "refused"
    if not uow.flows.resolve(
        flow.handle_digest, state=state, subject_id=subject.id, case_id=case.id
    ):
        raise _FlowTaken
    return case.id if state == "open" else None


def _ask_attester(
    svc: Services, uow: UnitOfWork, case: Case, subject: Subject, now: datetime
) -> None:
    """After a first passed proof that does not suffice, when the tier lists
    manager_attestation and it has not passed: ask the manager or sponsor, once
    per case, within the policy's caps. Never on an anonymous start alone: a
    start proves nothing, and would let anyone mail a sponsor at will. Without
    an attester on record (or past the caps) the subject proves with the
    tier's other methods."""
    if (
        case.state != CaseState.PROOFING
        or attestation.METHOD not in case.requirements.methods
        or attestation.METHOD in case.passed_methods()
    ):
        return
    try:
        attestation.request_for_case(
            svc,
            uow,
            case=case,
            subject=subject,
            actor=subject_actor(subject.id),
            asked_by_person=subject.id,
            now=now,
        )
    except DomainError:
        return


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


def case_of_flow(svc: Services, handle: str) -> str | None:
    """The open case behind a flow handle, or None (unknown, expired, refused)."""
    return _case_of(svc, handle)


@dataclass(frozen=True, slots=True)
class FlowTarget:
    """Who a live flow is about: ``who`` keys the throttles (a subject, or the
    digest of an unknown identifier); ``case_id`` is the open case, if any."""

    who: str
    case_id: str | None
    source_address: str | None
    device_digest: str | None
    #: The case the policy refused as it opened (the subject is told why).
    refused_case_id: str | None = None


def _target(svc: Services, handle: str) -> FlowTarget | None:
    """The target of a live flow (resolving a pending one first); None for a
    malformed, unknown or expired handle."""
    if not looks_like_token(handle):
        return None
    digest = token_digest(handle)
    with svc.uow() as uow:
        flow = uow.flows.get(digest)
    if flow is None or flow.expires_at <= svc.clock.now():
        return None
    if flow.state == "pending":
        resolve_pending(svc, digest)
        with svc.uow() as uow:
            flow = uow.flows.get(digest)
        assert flow is not None  # flows are never deleted while live
    who = throttles.subject_who(flow.subject_id) if flow.subject_id else flow.identifier
    return FlowTarget(
        who=who or "a:-",
        case_id=flow.case_id if flow.state == "open" else None,
        source_address=flow.source_address,
        device_digest=flow.device_digest,
        refused_case_id=flow.case_id if flow.state == "refused" else None,
    )


def request_email_code(svc: Services, *, handle: str, source_address: str | None = None) -> None:
    """Send a code to the subject's confirmed email contacts if there is a case that
    allows it; otherwise do nothing. The caller learns nothing either way. Every
    request counts against the send limits (R-20), known account or not; a
    suppressed send is recorded on the case (R-21)."""
    _request_code(svc, handle, "email_code", source_address)


def request_sms_code(svc: Services, *, handle: str, source_address: str | None = None) -> None:
    """Like :func:`request_email_code`, by SMS to confirmed phone numbers; nothing
    is sent while a SIM-swap signal is recent (R-44), and the caller cannot tell."""
    _request_code(svc, handle, "sms_code", source_address)


def _request_code(svc: Services, handle: str, method: str, source_address: str | None) -> None:
    target = _target(svc, handle)
    if target is None:
        return
    source = source_address or target.source_address
    if target.refused_case_id is not None:
        # The same count as any other request; the subject (never the caller)
        # learns whom to contact when the policy refused the recovery.
        refusals.tell_subject(svc, target.refused_case_id, who=target.who, source=source)
        return
    if target.case_id is None:
        with svc.uow() as uow:
            throttles.admit_send(uow, who=target.who, source=source, now=svc.clock.now())
            uow.commit()
        return
    try:
        with case_transaction(svc, target.case_id) as txn:
            if txn.case.state != CaseState.PROOFING:
                throttles.admit_send(txn.uow, who=target.who, source=source, now=txn.now)
                txn.uow.commit()
                return
            refusal = sms.admit_send(
                txn.uow, case=txn.case, method=method, source=source, now=txn.now
            )
            if refusal is None:
                send = proofing.send_email_code if method == "email_code" else sms.send_code
                send(
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


def submit_proof(
    svc: Services,
    *,
    handle: str,
    method: str,
    response: str,
    source_address: str | None = None,
) -> SelfServiceProof:
    """Check one piece of evidence. Raises ProofingFailed (one message for a wrong
    code, an unknown account or a closed case) or Throttled. Every attempt counts
    against the throttles before it is checked, for an unknown account too, so
    both answer alike (R-18, R-19)."""
    if method not in METHODS or method in proofing.OUT_OF_BAND:
        raise InvalidInput(
            f"'{method}' is not a method a code can be submitted for",
            known=sorted(set(METHODS) - proofing.OUT_OF_BAND),
        )
    target = _target(svc, handle)
    if target is None:
        _fail_without_flow(svc, method, source_address)
    source = source_address or target.source_address
    if target.case_id is None:
        with svc.uow() as uow:
            _count_without_case(svc, uow, target, method, source)
    with case_transaction(svc, target.case_id) as txn:
        case = txn.case
        if (
            case.state != CaseState.PROOFING
            or method not in case.requirements.methods
            or (case.awaits_reproofing() and method != REPROOFING)
        ):
            # A method the case cannot take now fails like a wrong code.
            _count_without_case(svc, txn.uow, target, method, source)
        try:
            proofing.check_throttle(txn.uow, case, method, txn.now, source=source)
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
        proofing.record_outcome(
            txn.uow, txn.subject.id, method, verdict.passed, txn.now, source=source
        )
        if verdict.passed and target.device_digest is not None:
            txn.uow.risk.remember_device(txn.subject.id, target.device_digest, now=txn.now)
        case.record_proof(
            ProofRecord(
                method=method,
                passed=verdict.passed,
                at=txn.now,
                actor=subject_actor(txn.subject.id),
                phishing_resistant=METHODS[method].phishing_resistant,
                kind=METHODS[method].kind,
            )
        )
        if case.state in (CaseState.APPROVED,):  # record_proof may have moved it
            # Nobody else is in the loop: Custos executes a self-service case itself.
            credentials.issue(
                svc, txn.uow, case=case, subject=txn.subject, executor=None, now=txn.now
            )
        if verdict.passed:
            _ask_attester(svc, txn.uow, case, txn.subject, txn.now)
        still_open: tuple[str, ...] = ()
        if verdict.passed and case.state == CaseState.PROOFING:
            still_open = offered_methods.still_open(
                txn.uow, case=case, subject=txn.subject, now=txn.now
            )
        txn.save_and_commit()
        state = case.state
    if not verdict.passed:
        raise ProofingFailed(GENERIC_FAILURE)
    return SelfServiceProof(
        status=_status(state),
        replacement_recovery_code=verdict.replacement_code,
        methods=still_open,
    )


def _fail_without_flow(svc: Services, method: str, source: str | None) -> NoReturn:
    """The answer for a malformed, unknown or expired handle: the source's proof
    allowance is counted first, so a flood of made-up handles is refused before
    it spends the dummy verification (an argon2 hash for recovery codes); then
    it fails like a wrong code."""
    with svc.uow() as uow:
        refusal = throttles.admit_proof_source(uow, source=source, now=svc.clock.now())
        uow.commit()
    if refusal is not None:
        raise proofing.throttled(refusal)
    proofing.equalise_unknown(svc, method)
    raise ProofingFailed(GENERIC_FAILURE)


def _count_without_case(
    svc: Services, uow: UnitOfWork, target: FlowTarget, method: str, source: str | None
) -> NoReturn:
    """The answer when no open case stands behind the flow: the attempt counts
    and fails exactly like a wrong code for a real account (R-19)."""
    refusal = throttles.reserve_proof(
        uow, who=target.who, method=method, source=source, now=svc.clock.now()
    )
    uow.commit()
    if refusal is not None:
        raise proofing.throttled(refusal)
    proofing.equalise_unknown(svc, method)
    raise ProofingFailed(GENERIC_FAILURE)


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
