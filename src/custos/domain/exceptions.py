"""Exceptions: a time-bound, two-person-approved relaxation of one requirement
of the policy for some subjects, a group or a tier, kept as a registry record,
never as a policy edit (docs/exceptions.md). Break-glass is an exception of the
kind ``break_glass``: it lets a blocked case (a held subject) go on while the
hold stands, through proofing when its evidence is not in, then approval,
where a security approver must be among the approvers and its invoker never
is.

Rules, enforced here for every face:

* an exception names who asked, why (a reason and the ticket it answers),
  what it covers (subjects, a group or a tier) and what it relaxes; it has an
  end time, capped by the policy
  (``exceptions.max_duration``, default 72 h);
* it is active only once two distinct people, neither of them the requester,
  approved it, and only between its start and its end, unless revoked;
* an expired, revoked or pending exception relaxes nothing.

Plain data and checks; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from custos.domain.errors import (
    BreakGlassRefused,
    ExceptionApprovalRefused,
    ExceptionNotActive,
    InvalidInput,
    SeparationOfDuties,
)
from custos.domain.events import EventType
from custos.domain.instants import named_time
from custos.domain.model import BreakGlass, Case, CredentialAction, Operator, Requirements
from custos.domain.states import CaseState

#: Distinct approvers an exception needs before it is active.
APPROVALS_NEEDED = 2
DEFAULT_MAX_DURATION = timedelta(hours=72)
MAX_REASON = 2000


class Relaxation(StrEnum):
    """What an exception relaxes."""

    #: Fewer approvals than the tier asks (``value``: the count, at least 1).
    APPROVALS = "approvals"
    #: A proofing method the tier does not list (``value``: the method).
    METHOD = "method"
    #: A blocked case (a held subject) may go on past the hold, with a
    #: security approver among its approvers.
    BREAK_GLASS = "break_glass"


class ExceptionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class ExceptionApproval:
    actor: str
    person: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """One exception. It covers ``subject_ids``, or the members of ``group``,
    or the cases of ``tier`` (exactly one of the three is given)."""

    id: str
    requested_by: str
    requester_person: str
    reason: str
    relaxation: Relaxation
    value: str
    starts_at: datetime
    ends_at: datetime
    subject_ids: tuple[str, ...] = ()
    group: str | None = None
    tier: str | None = None
    approvals: tuple[ExceptionApproval, ...] = ()
    #: The change or incident ticket it answers (None only on records made
    #: before exceptions carried one).
    ticket: str | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    #: When the worker recorded that the end time passed.
    expired_at: datetime | None = None

    def approvers(self) -> frozenset[str]:
        """The distinct people who approved, the requester never counted."""
        return frozenset(a.person for a in self.approvals if a.person != self.requester_person)

    def status(self, now: datetime) -> ExceptionStatus:
        if self.revoked_at is not None:
            return ExceptionStatus.REVOKED
        if self.expired_at is not None or now >= self.ends_at:
            return ExceptionStatus.EXPIRED
        if len(self.approvers()) < APPROVALS_NEEDED or now < self.starts_at:
            return ExceptionStatus.PENDING
        return ExceptionStatus.ACTIVE

    def covers(self, subject_id: str, groups: frozenset[str], tier: str) -> bool:
        if self.subject_ids:
            return subject_id in self.subject_ids
        if self.group is not None:
            return self.group in groups
        return self.tier == tier


def check_request(
    *,
    reason: str,
    relaxation: Relaxation,
    value: str,
    starts_at: datetime,
    ends_at: datetime | None,
    now: datetime,
    max_duration: timedelta,
    subject_ids: tuple[str, ...],
    group: str | None,
    tier: str | None,
) -> str:
    """Check a request; returns the reason stripped. Raises InvalidInput (no end
    time, an end beyond the policy's cap, a bad target or value)."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"an exception needs a reason of 1 to {MAX_REASON} characters")
    if sum((bool(subject_ids), group is not None, tier is not None)) != 1:
        raise InvalidInput("an exception covers subjects, one group or one tier: give exactly one")
    if ends_at is None:
        raise InvalidInput("an exception needs an end time; none is open-ended")
    starts_at = named_time(starts_at, what="the start time")
    ends_at = named_time(ends_at, what="the end time")
    if ends_at <= max(starts_at, now):
        raise InvalidInput("the end time of an exception must lie after its start and now")
    if ends_at - starts_at > max_duration:
        hours = int(max_duration.total_seconds() // 3600)
        raise InvalidInput(
            f"an exception lasts at most {hours} h (policy exceptions.max_duration)",
            max_hours=hours,
        )
    if relaxation == Relaxation.APPROVALS and not (value.isdigit() and int(value) >= 1):
        raise InvalidInput("an approvals exception names the count it allows, at least 1")
    if relaxation == Relaxation.METHOD and not value.strip():
        raise InvalidInput("a method exception names the method it allows")
    return reason


def approve(record: ExceptionRecord, *, actor: str, person: str, now: datetime) -> ExceptionRecord:
    """``record`` with one more approval. Raises ExceptionNotActive (expired or
    revoked), ExceptionApprovalRefused (the requester, or a second approval by
    the same person)."""
    status = record.status(now)
    if status in (ExceptionStatus.EXPIRED, ExceptionStatus.REVOKED):
        raise ExceptionNotActive(f"exception {record.id} is {status}", exception=record.id)
    if person == record.requester_person:
        raise ExceptionApprovalRefused(
            "the requester of an exception never approves it", rule="requester"
        )
    if person in record.approvers():
        raise ExceptionApprovalRefused(
            "this person already approved the exception; two different people must",
            rule="already_approved",
        )
    return replace(
        record, approvals=(*record.approvals, ExceptionApproval(actor=actor, person=person, at=now))
    )


def check_usable(
    record: ExceptionRecord, *, subject_id: str, groups: frozenset[str], tier: str, now: datetime
) -> None:
    """Raises ExceptionNotActive unless ``record`` is active at ``now`` and
    covers the subject (directly, by a group, or by its tier)."""
    status = record.status(now)
    if status != ExceptionStatus.ACTIVE:
        raise ExceptionNotActive(
            f"exception {record.id} is {status}, not active", exception=record.id
        )
    if not record.covers(subject_id, groups, tier):
        raise ExceptionNotActive(
            f"exception {record.id} does not cover subject '{subject_id}'", exception=record.id
        )


def relax(req: Requirements, record: ExceptionRecord) -> Requirements:
    """The requirements of a case that uses ``record`` (checked usable)."""
    if record.relaxation == Relaxation.APPROVALS:
        return replace(req, approvals=min(req.approvals, int(record.value)))
    if record.relaxation == Relaxation.METHOD:
        return replace(req, methods=req.methods | {record.value})
    return req


def break_glass_requirements(
    req: Requirements, security_groups: frozenset[str], use: BreakGlass | None = None
) -> Requirements:
    """A blocked case's requirements under break-glass: the tier's approvers
    plus one more, who must come from ``security_groups``; ``use`` recorded."""
    groups = req.approver_groups | security_groups if req.approver_groups else frozenset()
    return replace(req, approvals=req.approvals + 1, approver_groups=groups, break_glass=use)


def check_break_glass_quorum(
    *,
    required: int,
    approver_groups: list[frozenset[str]],
    security_groups: frozenset[str],
) -> None:
    """``approver_groups``: the groups of each distinct approver so far, the one
    approving now last. Raises BreakGlassRefused when these approvals fill the
    quorum and none of the approvers is a security approver."""
    if len(approver_groups) < required:
        return
    if not any(groups & security_groups for groups in approver_groups):
        raise BreakGlassRefused(
            "break-glass needs a security approver among the approvers ("
            + ", ".join(sorted(security_groups))
            + ")",
            rule="security_approver",
            groups=sorted(security_groups),
        )


def use_exception(
    case: Case, record: ExceptionRecord, *, groups: frozenset[str], now: datetime, actor: str
) -> None:
    """Relax ``case``'s requirements by ``record`` (not break-glass) while it
    waits on evidence or a decision; the case records the exception it used
    (``governance:exception:used`` on the case). Raises ExceptionNotActive,
    InvalidInput."""
    if record.relaxation == Relaxation.BREAK_GLASS:
        raise InvalidInput("a break-glass exception is used through the break-glass path")
    if case.state not in (CaseState.PROOFING, CaseState.AWAITING_APPROVAL):
        raise InvalidInput(f"case {case.id} cannot take an exception in state '{case.state}'")
    check_usable(
        record, subject_id=case.subject_id, groups=groups, tier=case.requirements.tier, now=now
    )
    case.requirements = relax(case.requirements, record)
    case.emit(
        EventType.EXCEPTION_USED,
        at=now,
        actor=actor,
        reason=record.reason,
        data={"exception": record.id, "relaxation": str(record.relaxation), "value": record.value},
    )


def check_break_glass_exception(
    record: ExceptionRecord,
    *,
    subject_id: str,
    groups: frozenset[str],
    tier: str,
    now: datetime,
) -> None:
    """Raises BreakGlassRefused unless ``record`` is a ``break_glass``
    exception, active at ``now``, covering the subject."""
    if record.relaxation != Relaxation.BREAK_GLASS:
        raise BreakGlassRefused(
            f"exception {record.id} is not a break-glass exception (it relaxes "
            f"'{record.relaxation}')",
            rule="not_break_glass",
            exception=record.id,
        )
    try:
        check_usable(record, subject_id=subject_id, groups=groups, tier=tier, now=now)
    except ExceptionNotActive as exc:
        rule = "not_covered" if record.status(now) == ExceptionStatus.ACTIVE else "not_active"
        raise BreakGlassRefused(exc.message, rule=rule, exception=record.id) from None


def use_break_glass(
    case: Case,
    record: ExceptionRecord,
    *,
    groups: frozenset[str],
    security_groups: frozenset[str],
    reason: str,
    now: datetime,
    actor: str,
    person: str,
    recovering: Requirements | None = None,
) -> None:
    """Send a blocked case on under break-glass: an active ``break_glass``
    exception covering the subject, a documented reason, and the tier's
    approvers plus a security approver from then on. The case goes to
    ``awaiting_approval`` when its proofing is already satisfied, else to
    ``proofing`` (break-glass never skips the evidence the tier asks), with a
    fresh lifetime. Records ``governance:break_glass:used`` on the case and the
    use in its requirements (who invoked it: never one of its approvers).

    ``recovering``: for a case that opened under a block tier because of its
    subject's holds, the requirements of the tier the subject matches without
    them (the caller selects it; ``case:policy:tier_selected`` records it).
    Raises BreakGlassRefused (``details["rule"]`` names why)."""
    if case.state != CaseState.BLOCKED:
        raise BreakGlassRefused(
            f"case {case.id} is not blocked (state '{case.state}'); break-glass only "
            "sends a blocked case on",
            rule="not_blocked",
        )
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise BreakGlassRefused(
            f"break-glass needs a documented reason of 1 to {MAX_REASON} characters",
            rule="reason",
        )
    if not security_groups:
        raise BreakGlassRefused(
            "the policy names no security approver groups (exceptions.security_groups)",
            rule="security_approver",
        )
    check_break_glass_exception(
        record, subject_id=case.subject_id, groups=groups, tier=case.requirements.tier, now=now
    )
    req = recovering or case.requirements
    if req.refused or req.action in (CredentialAction.BLOCK, CredentialAction.REFUSE):
        raise BreakGlassRefused(
            f"tier '{req.tier}' refuses this recovery whatever the holds: a "
            "break-glass exception past a block tier must name, in its value, the "
            "tier to recover under",
            rule="policy_blocks",
        )
    proofed = _proofing_satisfied(case, req)
    if not proofed and not req.methods:
        raise BreakGlassRefused(
            f"tier '{req.tier}' lists no proofing method, so the case's "
            "evidence can never be in: cancel it and open a new case",
            rule="no_proofing",
        )
    if recovering is not None:
        case.emit(
            EventType.TIER_SELECTED,
            at=now,
            actor=actor,
            reason="break-glass: the tier the subject matches without its holds",
            data={
                "tier": req.tier,
                "policy_hash": req.policy_hash,
                "policy_version": req.policy_version,
                "action": str(req.action),
                "factors": req.factors,
                "methods": sorted(req.methods),
                "approvals": req.approvals,
                "phishing_resistant": req.phishing_resistant,
                "refused": req.refused,
            },
        )
    use = BreakGlass(
        exception=record.id,
        invoked_by=actor,
        invoker_person=person,
        at=now,
        security_groups=security_groups,
    )
    base = req
    if base.break_glass is not None:  # a second use: raise from the tier's count once only
        base = replace(base, approvals=base.approvals - 1)
    case.requirements = break_glass_requirements(base, security_groups, use)
    case.held_from = case.held_at = None
    case.approvals.clear()
    case.outcome_reason = ""
    case.emit(
        EventType.BREAK_GLASS_USED,
        at=now,
        actor=actor,
        reason=reason,
        data={
            "exception": record.id,
            "security_groups": sorted(security_groups),
            "approvals": case.requirements.approvals,
        },
    )
    ttl = case.requirements.approval_expiry if proofed else case.requirements.case_ttl
    case.expires_at = now + ttl
    target = CaseState.AWAITING_APPROVAL if proofed else CaseState.PROOFING
    case.move(target, at=now, actor=actor, reason=f"break-glass: {reason}")


def _proofing_satisfied(case: Case, req: Requirements) -> bool:
    """Whether ``case``'s evidence meets ``req`` (its own, or those it is about
    to take)."""
    return replace(case, requirements=req, pending_events=[]).proofing_satisfied()


def check_break_glass_approval(
    case: Case, approver: Operator, *, prior_groups: list[frozenset[str]]
) -> None:
    """The break-glass rules of one more approval of ``case`` (nothing for a
    case without break-glass): its invoker never approves it, and the approval
    that fills the quorum needs a security approver among the approvers.
    ``prior_groups``: the groups of each distinct approver so far. Raises
    SeparationOfDuties, BreakGlassRefused."""
    use = case.requirements.break_glass
    if use is None:
        return
    if approver.person == use.invoker_person:
        raise SeparationOfDuties(
            "the operator who invoked break-glass on a case cannot approve it",
            rule="break_glass_invoker",
        )
    check_break_glass_quorum(
        required=case.requirements.approvals,
        approver_groups=[*prior_groups, approver.groups],
        security_groups=use.security_groups,
    )


def break_glass_passes(
    case: Case, record: ExceptionRecord | None, *, groups: frozenset[str], now: datetime
) -> bool:
    """Whether ``case`` goes on while a hold stands on its subject: it carries
    a break-glass use, is no longer blocked, and the exception it used
    (``record``) is still active and covers the subject. Only that case: the
    hold keeps refusing every other one."""
    use = case.requirements.break_glass
    if use is None or record is None or record.id != use.exception:
        return False
    if case.state == CaseState.BLOCKED:
        return False
    return record.status(now) == ExceptionStatus.ACTIVE and record.covers(
        case.subject_id, groups, case.requirements.tier
    )
