"""Break-glass on a blocked case (docs/exceptions.md): one transaction that
checks the invoker, the exception and the reason through the domain
(``use_break_glass``), sends the case on (to proofing, or to approval when
its evidence is in) with the tier's approvers plus a security approver, and
writes, with the case and its ``governance:break_glass:used`` event, the
alerts to the outbox: a mail to ``security_address`` and a signed webhook.
Nothing is sent from the request; the worker's sweep sends both (at least
once). The hold keeps standing: only this case goes on.

Every refusal (no or the wrong exception, not active or not covering the
subject, no reason, a case not blocked, a role or scope refusal, no alert
channel) leaves the case as it was and is recorded by the refusal recorder as
``governance:break_glass:refused`` (R-36), a flood summarised."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from custos.domain.errors import BreakGlassRefused, DomainError, NotAuthorized, NotFound
from custos.domain.events import EventType, utc
from custos.domain.exceptions import ExceptionRecord, use_break_glass
from custos.domain.identities import REFUSING_ACTIONS
from custos.domain.model import Case, Operator, Requirements, Role, Subject
from custos.notify import messages
from custos.oversight.refusals import BREAK_GLASS_ACTION
from custos.policy.engine import select_requirements, tier_requirements
from custos.service.exceptions.break_glass_rules import security_groups
from custos.service.exceptions.commands import visible
from custos.service.notices import dispatch as notices
from custos.service.notices import webhooks
from custos.service.ports import Services
from custos.service.recovery.case_transaction import case_transaction
from custos.store.unit_of_work import UnitOfWork

MAX_EXCEPTION_ID = 80


def may_invoke(operator: Operator, groups: frozenset[str]) -> bool:
    """Who may invoke break-glass: the help desk (the ``requester`` role, as for
    opening and cancelling a case; an admin holds every role) or a security
    approver (the ``approver`` role in one of ``groups``). Whoever invokes it
    never approves the case."""
    if operator.has_role(Role.REQUESTER):
        return True
    return operator.has_role(Role.APPROVER) and bool(operator.groups & groups)


def invoke(
    svc: Services, operator: Operator, case_id: str, *, exception_id: str, reason: str
) -> Case:
    """Apply the break-glass exception ``exception_id`` to blocked case
    ``case_id`` with a documented ``reason``. Raises NotFound (an unknown case,
    or one outside the operator's scope, word for word alike), NotAuthorized,
    SeparationOfDuties (the subject's own case), BreakGlassRefused."""
    groups = security_groups(svc)
    with case_transaction(
        svc, case_id, operator=operator, action=BREAK_GLASS_ACTION, hold_refuses=False
    ) as txn:
        if not may_invoke(operator, groups):
            raise NotAuthorized(
                "break-glass is invoked by the help desk (the 'requester' role) or a "
                "security approver (" + ", ".join(sorted(groups)) + ")",
                role=str(Role.REQUESTER),
            )
        record = _exception(txn.uow, operator, exception_id)
        if svc.settings.security_address is None and not webhooks.configured(svc):
            raise BreakGlassRefused(
                "break-glass always alerts security: configure security_address or the "
                "security webhook first",
                rule="no_alert_channel",
            )
        use_break_glass(
            txn.case,
            record,
            groups=txn.subject.groups,
            security_groups=groups,
            reason=reason,
            now=txn.now,
            actor=operator.actor,
            person=operator.person,
            recovering=_recovering(svc, txn.case, txn.subject, record),
        )
        txn.uow.cases.drop_approvals(txn.case)
        _alert(svc, txn.uow, txn.case, txn.subject, operator, reason=reason.strip(), now=txn.now)
        txn.save_and_commit()
        return txn.case


def _recovering(
    svc: Services, case: Case, subject: Subject, record: ExceptionRecord
) -> Requirements | None:
    """For a case that opened under a block or refuse tier: the requirements
    to recover under. First the tier the subject matches without its holds
    (the hold is what break-glass passes); when the policy itself blocks the
    subject ("beyond what the policy allows"), the tier the exception names
    in its value, which two approvers agreed to. None when there is nothing
    to choose again or no tier recovers the subject (the domain refuses)."""
    if case.requirements.action not in REFUSING_ACTIONS:
        return None
    if subject.holds:
        try:
            unheld = select_requirements(
                svc.policy, replace(subject, holds=frozenset()), case.channel, case.risk
            )
        except DomainError:
            unheld = None
        if unheld is not None and unheld.action not in REFUSING_ACTIONS:
            return unheld
    if not record.value:
        return None
    try:
        return tier_requirements(svc.policy, subject, record.value, case.risk)
    except DomainError:
        return None  # the tier left the policy since: the domain refuses


def _exception(uow: UnitOfWork, operator: Operator, exception_id: str) -> ExceptionRecord:
    """The exception named, or BreakGlassRefused when there is none the
    operator may see (unknown and out of scope answer alike)."""
    wanted = exception_id.strip()[:MAX_EXCEPTION_ID]
    none = BreakGlassRefused(
        f"no break-glass exception '{wanted}': request one and have two people approve it",
        rule="no_exception",
    )
    if not wanted:
        raise none
    try:
        record = uow.exceptions.get(wanted)
    except NotFound:
        raise none from None
    if not visible(uow, operator, record):
        raise none
    return record


def _alert(
    svc: Services,
    uow: UnitOfWork,
    case: Case,
    subject: Subject,
    operator: Operator,
    *,
    reason: str,
    now: datetime,
) -> None:
    """Write the alert mail and the signed webhook to the outbox, in the use's
    transaction. Neither carries a secret: the case, its subject, the
    exception, who invoked it, why, and what the case needs now."""
    use = case.requirements.break_glass
    assert use is not None  # use_break_glass recorded it
    invoked_by = f"{operator.name} ({operator.actor})"
    holds = sorted(subject.holds)
    groups = sorted(use.security_groups)
    address = svc.settings.security_address
    if address is not None:
        mail = messages.break_glass_used(
            to=address,
            case_id=case.id,
            subject_id=subject.id,
            exception_id=use.exception,
            invoked_by=invoked_by,
            reason=reason,
            at=now,
            tier=case.requirements.tier,
            holds=holds,
            approvals=case.requirements.approvals,
            security_groups=groups,
            state_after=str(case.state),
        )
        notices.queue(svc, uow, [mail], subject_id=subject.id)
    if webhooks.configured(svc):
        payload: dict[str, Any] = {
            "type": str(EventType.BREAK_GLASS_USED),
            "time": utc(now),
            "case": case.id,
            "subject": subject.id,
            "tier": case.requirements.tier,
            "exception": use.exception,
            "invoked_by": operator.actor,
            "invoked_by_name": operator.name,
            "reason": reason,
            "holds": holds,
            "state_after": str(case.state),
            "approvals_required": case.requirements.approvals,
            "security_groups": groups,
        }
        webhooks.queue_security_webhook(
            svc,
            uow,
            kind="break_glass_used",
            payload=payload,
            subject_id=subject.id,
            case_id=case.id,
        )
