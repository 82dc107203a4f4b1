"""Operator commands on cases: open (help desk), proof, approve, deny, execute,
cancel, retry. Separation of duties is checked here through the domain on every
call, whatever face it came from (R-32, R-33, R-34)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from custos.domain import sod
from custos.domain.errors import (
    AlreadyDecided,
    ChannelNotAllowed,
    InvalidInput,
    NotAnOwner,
    NotFound,
    ProofingFailed,
    RecoveryBlocked,
    RecoveryRefused,
    SmsBlocked,
    Throttled,
)
from custos.domain.model import (
    Case,
    Channel,
    CredentialAction,
    Operator,
    ProofRecord,
    Role,
    Subject,
    subject_actor,
)
from custos.domain.states import CaseState
from custos.proofing.base import METHODS
from custos.service.exceptions import break_glass_rules
from custos.service.notices import sms
from custos.service.ports import Services
from custos.service.recovery import credentials, proofing, shared_accounts
from custos.service.recovery.case_transaction import CaseTxn, case_transaction
from custos.service.recovery.opening import open_case, refusal_of

MAX_REASON = 2000
#: A help-desk ticket reference: letters, digits and ``-_.:#/``, as ticket systems spell them.
TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:#/-]{0,99}$")


@dataclass(frozen=True, slots=True)
class ProofResult:
    case_id: str
    state: CaseState
    passed: bool


def _reason(text: str, *, what: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(f"{what} needs a reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return text


def open_helpdesk_case(
    svc: Services,
    operator: Operator,
    *,
    subject_id: str,
    reason: str,
    channel: Channel = Channel.HELPDESK,
    source_address: str | None = None,
    ticket: str | None = None,
    on_behalf_of: str | None = None,
) -> Case:
    """Open a case for a caller. ``ticket``: the help-desk ticket it answers,
    recorded in the ``case:case:opened`` event; ``on_behalf_of``: the owner of a
    shared account the caller is (else the operator asks for themselves).
    Raises NotFound, NotAuthorized, OutOfScope, SeparationOfDuties,
    InvalidInput; ChannelNotAllowed, RecoveryBlocked, NotAnOwner or
    RecoveryRefused (a refuse tier's instructions, an ended contract) after
    recording the refused case (so the attempt is audited)."""
    reason = _reason(reason, what="a recovery request")
    ticket = ticket_reference(ticket)
    on_behalf_of = (on_behalf_of or "").strip() or None
    if channel == Channel.SELF_SERVICE:
        raise InvalidInput("operators cannot open self-service cases")
    now = svc.clock.now()
    with svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None:
            raise NotFound(f"no subject '{subject_id}'", subject_id=subject_id)
        sod.check_requester(operator, subject)
        case = open_case(
            svc,
            uow,
            subject=subject,
            channel=channel,
            reason=reason,
            requested_by=operator.actor,
            requester_person=operator.person,
            source_address=source_address,
            now=now,
            ticket=ticket,
            on_behalf_of=on_behalf_of,
        )
        uow.commit()
    raise_if_refused(case, subject, requester_person=operator.person, on_behalf_of=on_behalf_of)
    return case


def raise_if_refused(
    case: Case,
    subject: Subject,
    *,
    requester_person: str | None = None,
    on_behalf_of: str | None = None,
) -> None:
    """Answer a case that opened refused: RecoveryBlocked (a hold, a block tier),
    NotAnOwner (a shared account asked for by no owner: ``requester_person``, or
    ``on_behalf_of`` when the help desk names one), RecoveryRefused (a refuse
    tier's instructions, an ended contract), ChannelNotAllowed (the channel or
    the risk band); nothing for an open case."""
    if case.state == CaseState.BLOCKED:
        raise RecoveryBlocked(case.outcome_reason, case_id=case.id)
    not_owner = shared_accounts.requester_refusal(
        subject, requester_person=requester_person, on_behalf_of=on_behalf_of
    )
    if case.state == CaseState.DENIED and not_owner and case.outcome_reason == not_owner:
        raise NotAnOwner(case.outcome_reason, case_id=case.id, owners=list(subject.owners))
    if refusal_of(case, subject) is not None:
        raise RecoveryRefused(
            case.outcome_reason, case_id=case.id, instructions=case.requirements.instructions
        )
    if case.state == CaseState.DENIED:
        raise ChannelNotAllowed(case.outcome_reason, case_id=case.id)


def ticket_reference(text: str | None) -> str | None:
    """A ticket reference stripped, or None when empty. Raises InvalidInput."""
    text = (text or "").strip()
    if not text:
        return None
    if not TICKET.match(text):
        raise InvalidInput(
            "a ticket reference is 1-100 letters, digits, '.', '_', ':', '#', '/' or '-'"
        )
    return text


def _operator_on_case(txn: CaseTxn, operator: Operator, role: Role) -> None:
    sod.check_role(operator, role)
    sod.check_scope(operator, txn.subject)
    sod.check_not_subject(operator, txn.subject)


def add_proof(
    svc: Services, operator: Operator, case_id: str, *, method: str, response: str
) -> ProofResult:
    """The agent records evidence the caller gave (a TOTP code, a saved recovery
    code, the code sent to their confirmed contact). Raises ProofingFailed on a
    wrong answer (after recording it), Throttled while paused."""
    if method not in METHODS:
        raise InvalidInput(f"unknown proofing method '{method}'", known=sorted(METHODS))
    if method == "webauthn":
        raise InvalidInput(
            "the subject answers WebAuthn on their own device: send them a WebAuthn link"
        )
    with case_transaction(svc, case_id, operator=operator, action="proof") as txn:
        _operator_on_case(txn, operator, Role.REQUESTER)
        passed = _proof(svc, txn, method=method, response=response, actor=operator.actor)
        result = ProofResult(case_id=txn.case.id, state=txn.case.state, passed=passed)
    if not passed:
        raise ProofingFailed("the evidence did not match", case_id=case_id, state=str(result.state))
    return result


def record_subject_proof(
    svc: Services, case_id: str, *, method: str, response: str
) -> tuple[bool, CaseState]:
    """Evidence the subject gave on their own device for a help-desk case (a
    WebAuthn assertion through the agent's link); returns (passed, new state)."""
    with case_transaction(svc, case_id) as txn:
        passed = _proof(
            svc, txn, method=method, response=response, actor=subject_actor(txn.subject.id)
        )
        return passed, txn.case.state


def _proof(svc: Services, txn: CaseTxn, *, method: str, response: str, actor: str) -> bool:
    """Check, record and commit one proofing attempt; returns whether it passed."""
    case, now = txn.case, txn.now
    if case.state != CaseState.PROOFING:
        raise AlreadyDecided(f"case {case.id} is not collecting evidence (state '{case.state}')")
    if method not in case.requirements.methods:
        raise InvalidInput(
            f"method '{method}' is not allowed by tier '{case.requirements.tier}'",
            allowed=sorted(case.requirements.methods),
        )
    try:
        if method == "sms_code":  # refused outright, with its own error id
            sms.ensure_sms_allowed(svc, txn.uow, case=case, subject=txn.subject, now=now)
        proofing.check_throttle(txn.uow, case, method, now)
    except (Throttled, SmsBlocked):
        txn.save_and_commit()
        raise
    verdict = proofing.verify(
        svc, txn.uow, case=case, subject=txn.subject, method=method, response=response, now=now
    )
    proofing.record_outcome(txn.uow, txn.subject.id, method, verdict.passed, now)
    case.record_proof(
        ProofRecord(
            method=method,
            passed=verdict.passed,
            at=now,
            actor=actor,
            phishing_resistant=METHODS[method].phishing_resistant,
            kind=METHODS[method].kind,
        )
    )
    txn.save_and_commit()
    return verdict.passed


def send_email_code(svc: Services, operator: Operator, case_id: str) -> bool:
    with case_transaction(svc, case_id, operator=operator, action="email_code") as txn:
        _operator_on_case(txn, operator, Role.REQUESTER)
        if txn.case.state != CaseState.PROOFING:
            raise AlreadyDecided(f"case {case_id} is not collecting evidence")
        sent = proofing.send_email_code(
            svc, txn.uow, case=txn.case, subject=txn.subject, actor=operator.actor, now=txn.now
        )
        txn.save_and_commit()
    return sent


def approve(svc: Services, operator: Operator, case_id: str, *, reason: str) -> Case:
    reason = _reason(reason, what="an approval")
    with case_transaction(svc, case_id, operator=operator, action="approve") as txn:
        glass = txn.case.requirements.break_glass is not None
        if glass and txn.case.state == CaseState.AWAITING_APPROVAL:
            # Break-glass (docs/exceptions.md): the common rules first, then
            # never its invoker, and a security approver within the quorum.
            sod.check_approver(txn.case, operator, txn.subject)
            break_glass_rules.check_approval(txn.uow, txn.case, operator)
        txn.case.approve(operator, txn.subject, at=txn.now, reason=reason)
        txn.save_and_commit()
        return txn.case


def deny(svc: Services, operator: Operator, case_id: str, *, reason: str) -> Case:
    reason = _reason(reason, what="a denial")
    with case_transaction(svc, case_id, operator=operator, action="deny") as txn:
        txn.case.deny(operator, txn.subject, at=txn.now, reason=reason)
        txn.uow.tokens.void_live(txn.subject.id, now=txn.now, reason="case denied")
        txn.save_and_commit()
        return txn.case


def execute(svc: Services, operator: Operator, case_id: str) -> Case:
    """Carry out the credential action of an approved case: the subject receives
    the one-time link; the executor never sees it (R-34)."""
    with case_transaction(svc, case_id, operator=operator, action="execute") as txn:
        issue = credentials.issue
        if txn.case.requirements.action == CredentialAction.ROTATE:
            from custos.service.service_accounts import issuing  # imports credentials

            issue = issuing.issue
        issue(svc, txn.uow, case=txn.case, subject=txn.subject, executor=operator, now=txn.now)
        txn.save_and_commit()
        return txn.case


def cancel(svc: Services, operator: Operator, case_id: str, *, reason: str) -> Case:
    reason = _reason(reason, what="a cancellation")
    with case_transaction(
        svc, case_id, operator=operator, action="cancel", hold_refuses=False
    ) as txn:
        sod.check_canceller(operator, txn.subject)
        txn.case.cancel(operator.actor, at=txn.now, reason=reason)
        txn.uow.tokens.void_live(txn.subject.id, now=txn.now, reason="case cancelled")
        txn.uow.secrets.wipe(txn.case.id)
        txn.save_and_commit()
        return txn.case


def retry(svc: Services, operator: Operator, case_id: str, *, target: str | None = None) -> int:
    """Queue the failed receipts of a case in ``needs_attention`` again."""
    with case_transaction(svc, case_id, operator=operator, action="retry") as txn:
        _operator_on_case(txn, operator, Role.EXECUTOR)
        if txn.case.state != CaseState.NEEDS_ATTENTION:
            raise AlreadyDecided(
                f"case {case_id} does not need attention (state '{txn.case.state}')"
            )
        if txn.uow.secrets.get(case_id) is None:
            raise AlreadyDecided(f"case {case_id} holds no secret to propagate; open a new case")
        count = txn.uow.receipts.retry(case_id, now=txn.now, target=target)
        if count == 0:
            raise InvalidInput(
                "no failed receipt to retry" + (f" for '{target}'" if target else "")
            )
        txn.case.move(
            CaseState.EXECUTING,
            at=txn.now,
            actor=operator.actor,
            reason=f"retry of {count} receipt(s)",
        )
        txn.save_and_commit()
        return count
