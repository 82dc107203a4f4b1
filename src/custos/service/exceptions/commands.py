"""Requesting, approving and revoking exceptions (docs/exceptions.md). Each
command is one transaction: the record and its ledger event commit together;
a refused approval is recorded in the ledger too. The rules (an end time
capped by ``exceptions.max_duration``, two approvers neither the requester)
are the domain's, whatever face the command came from."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from custos.domain.errors import (
    DomainError,
    ExceptionNotActive,
    InvalidInput,
    NotAuthorized,
    NotFound,
)
from custos.domain.events import EventType, Outcome
from custos.domain.exceptions import (
    ExceptionRecord,
    ExceptionStatus,
    Relaxation,
    approve,
    check_request,
)
from custos.domain.identities import REFUSING_ACTIONS
from custos.domain.model import Operator, Role
from custos.service.exceptions.events import exception_event
from custos.service.ports import Services
from custos.service.recovery.cases import ticket_reference
from custos.store.unit_of_work import UnitOfWork

MAX_SUBJECTS = 200


def new_exception_id(now: datetime) -> str:
    return f"exc-{now.strftime('%Y%m%d')}-{secrets.token_hex(5)}"


def parse_relaxation(value: str) -> Relaxation:
    """Raises InvalidInput for an unknown relaxation."""
    try:
        return Relaxation(value)
    except ValueError:
        known = [str(r) for r in Relaxation]
        raise InvalidInput(f"unknown relaxation '{value[:40]}'", known=known) from None


def visible(uow: UnitOfWork, operator: Operator | None, record: ExceptionRecord) -> bool:
    """Whether ``operator`` (None: the local command line) sees ``record``: a
    tier exception needs the whole scope, a group one the group, a subject one
    every subject it names."""
    if operator is None or "*" in operator.scope:
        return True
    if record.group is not None:
        return operator.covers_groups(frozenset({record.group}))
    if record.tier is not None:
        return False
    groups = uow.subjects.groups_of(record.subject_ids)
    return all(operator.covers_groups(groups.get(s, frozenset())) for s in record.subject_ids)


def _require(operator: Operator, role: Role, act: str) -> None:
    if not operator.has_role(role):
        raise NotAuthorized(f"{act} an exception needs the '{role}' role", role=str(role))


def _locked(uow: UnitOfWork, operator: Operator, exception_id: str) -> ExceptionRecord:
    """The exception's row locked; NotFound also for one outside the scope."""
    record = uow.exceptions.get(exception_id, for_update=True)
    if not visible(uow, operator, record):
        raise NotFound(f"no exception '{exception_id[:80]}'", exception=exception_id[:80])
    return record


def _record(
    uow: UnitOfWork,
    type_: EventType,
    record: ExceptionRecord,
    operator: Operator,
    *,
    now: datetime,
    reason: str,
    outcome: Outcome = Outcome.SUCCESS,
    **extra: object,
) -> None:
    """Append the exception's event and commit ``uow``."""
    event = exception_event(
        type_, record, at=now, actor=operator.actor, reason=reason, outcome=outcome, **extra
    )
    uow.ledger.append([event])
    uow.commit()


def _recovery_tier(svc: Services, value: str) -> str:
    """A break-glass exception's value: empty, or a tier of the policy that
    recovers (not a block or refuse tier)."""
    name = value.strip()
    if not name:
        return ""
    for tier in svc.policy.document.tiers:
        if tier.name == name:
            if tier.action in REFUSING_ACTIONS:
                raise InvalidInput(
                    f"tier '{name}' refuses recovery: a break-glass exception names a "
                    "tier that recovers",
                    tier=name,
                )
            return name
    raise InvalidInput(f"the policy has no tier '{name[:80]}'", tier=name[:80])


def request_exception(
    svc: Services,
    operator: Operator,
    *,
    reason: str,
    ticket: str | None,
    relaxation: Relaxation,
    value: str,
    ends_at: datetime | None,
    starts_at: datetime | None = None,
    subject_ids: tuple[str, ...] = (),
    group: str | None = None,
    tier: str | None = None,
) -> ExceptionRecord:
    """Record a pending exception (``governance:exception:requested``). Raises
    InvalidInput (no ticket reference, no end time, one beyond
    ``exceptions.max_duration``, a bad target or value), NotAuthorized,
    NotFound (a subject unknown or outside the operator's scope)."""
    _require(operator, Role.REQUESTER, "requesting")
    now = svc.clock.now()
    ticket = ticket_reference(ticket)
    if ticket is None:
        raise InvalidInput("an exception needs the ticket reference it answers")
    starts_at = starts_at or now
    subject_ids = tuple(dict.fromkeys(s.strip() for s in subject_ids if s.strip()))
    if len(subject_ids) > MAX_SUBJECTS:
        raise InvalidInput(f"an exception names at most {MAX_SUBJECTS} subjects")
    group = group.strip() if group else None
    tier = tier.strip() if tier else None
    if relaxation == Relaxation.BREAK_GLASS:
        # Optional: the tier to recover under when the policy itself blocks the
        # subject (not a hold): "beyond what the policy allows".
        value = _recovery_tier(svc, value)
    reason = check_request(
        reason=reason,
        relaxation=relaxation,
        value=value.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
        max_duration=svc.policy.document.exceptions.max_duration,
        subject_ids=subject_ids,
        group=group,
        tier=tier,
    )
    assert ends_at is not None  # check_request refuses None
    if tier is not None and tier not in {t.name for t in svc.policy.document.tiers}:
        raise InvalidInput(f"the policy has no tier '{tier[:80]}'", tier=tier[:80])
    record = ExceptionRecord(
        id=new_exception_id(now),
        requested_by=operator.actor,
        requester_person=operator.person,
        reason=reason,
        relaxation=relaxation,
        value=value.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        subject_ids=subject_ids,
        group=group,
        tier=tier,
        ticket=ticket,
    )
    with svc.uow() as uow:
        for subject_id in subject_ids:
            subject = uow.subjects.get(subject_id)
            if subject is None or not operator.covers(subject):
                raise NotFound(f"no subject '{subject_id[:80]}'", subject_id=subject_id[:80])
        if not visible(uow, operator, record):
            raise NotFound("the exception's target lies outside the operator's scope")
        uow.exceptions.add(record)
        _record(uow, EventType.EXCEPTION_REQUESTED, record, operator, now=now, reason=reason)
    return record


def approve_exception(svc: Services, operator: Operator, exception_id: str) -> ExceptionRecord:
    """Add the operator's approval (``governance:exception:approved``, with the
    status it leaves). A refusal is recorded too. Raises NotFound,
    NotAuthorized, ExceptionApprovalRefused (the requester, a second approval
    by one person), ExceptionNotActive (expired or revoked)."""
    _require(operator, Role.APPROVER, "approving")
    now = svc.clock.now()
    with svc.uow() as uow:
        record = _locked(uow, operator, exception_id)
        try:
            approved = approve(record, actor=operator.actor, person=operator.person, now=now)
        except DomainError as exc:
            _record(
                uow,
                EventType.EXCEPTION_APPROVED,
                record,
                operator,
                now=now,
                reason=exc.message,
                outcome=Outcome.DENIED,
                error=exc.error_id,
            )
            raise
        uow.exceptions.set_approvals(approved)
        _record(
            uow,
            EventType.EXCEPTION_APPROVED,
            approved,
            operator,
            now=now,
            reason="approved",
            status=str(approved.status(now)),
            approvals=len(approved.approvers()),
        )
    return approved


def revoke_exception(
    svc: Services, operator: Operator, exception_id: str, *, reason: str
) -> ExceptionRecord:
    """Revoke a pending or active exception (``governance:exception:revoked``):
    an approver or its requester. Raises NotFound, NotAuthorized, InvalidInput
    (no reason), ExceptionNotActive (expired or revoked already)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("revoking an exception needs a reason")
    now = svc.clock.now()
    with svc.uow() as uow:
        record = _locked(uow, operator, exception_id)
        if operator.person != record.requester_person:
            _require(operator, Role.APPROVER, "revoking")
        status = record.status(now)
        if status in (ExceptionStatus.EXPIRED, ExceptionStatus.REVOKED) or not (
            uow.exceptions.revoke(record.id, by=operator.actor, at=now)
        ):
            raise ExceptionNotActive(
                f"exception {record.id} is {status}, nothing to revoke", exception=record.id
            )
        revoked = replace(record, revoked_by=operator.actor, revoked_at=now)
        _record(uow, EventType.EXCEPTION_REVOKED, revoked, operator, now=now, reason=reason)
    return revoked
