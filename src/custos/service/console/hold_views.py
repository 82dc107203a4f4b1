"""Holds on the console's pages (docs/console.md#holds): the holds section of a
subject's page and the holds list under Audit, with, for each hold, whether
this operator may lift it and if not why, in plain words. The rules are
``domain/holds.py``'s; the commands check them again when they run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custos.domain.errors import DomainError, NotAuthorized
from custos.domain.holds import (
    HoldRecord,
    HoldRules,
    HoldStatus,
    check_lifter,
    check_setter,
    may_lift,
    may_set,
)
from custos.domain.model import Operator, Role
from custos.service.console.wording import as_sentence, rule_words
from custos.service.holds import queries
from custos.service.holds.queries import HoldView
from custos.service.holds.standing import hold_rules
from custos.service.ports import Services

#: What each built-in kind means for the subject; a policy's own kind gets
#: the general sentence.
HOLD_WORDS = {
    "legal_hold": "Legal hold: every recovery is blocked while it lasts.",
    "incident_freeze": "Incident freeze: every recovery is blocked until security lifts it.",
    "fraud": "Fraud hold (set by a fraud flag or by security): every recovery is blocked "
    "until a security approver who did not set it lifts it.",
}
#: Why an operator may not lift a hold, by the rule the domain names.
CANNOT_LIFT = {
    "hold_setter": "You set this hold: a different person must lift it.",
    "own_hold": "This hold applies to your own account: another person must lift it.",
}


def hold_words(kind: str) -> str:
    return HOLD_WORDS.get(kind, f"{kind} hold (a kind the policy adds): every recovery is blocked.")


@dataclass(frozen=True, slots=True)
class HoldLine:
    id: str
    kind: str
    words: str
    #: ``this subject``, ``subject 'bob'`` or ``group 'finance'``.
    on: str
    subject_id: str | None
    reason: str
    ticket: str | None
    status: str
    set_by: str
    set_at: datetime
    ends_at: datetime | None
    lifted_by: str | None
    lifted_at: datetime | None
    lift_reason: str | None
    #: Why this operator cannot lift it; None: the lift form is shown.
    cannot_lift: str | None


@dataclass(frozen=True, slots=True)
class HoldsPage:
    holds: list[HoldLine]
    status: str
    statuses: list[str]
    kinds: list[str]
    subject: str
    group: str
    #: Why this operator cannot set a hold; None: the set form is shown.
    cannot_set: str | None


def in_words(exc: DomainError) -> str:
    """A refusal of a hold command as the console says it."""
    return rule_words(exc, CANNOT_LIFT) or as_sentence(exc)


def cannot_set(operator: Operator, rules: HoldRules, subject_id: str | None = None) -> str | None:
    try:
        check_setter(operator, rules, subject_id=subject_id)
    except DomainError as exc:
        return in_words(exc)
    return None


def _cannot_lift(
    operator: Operator,
    rules: HoldRules,
    hold: HoldRecord,
    *,
    own: frozenset[str] | None,
    now: datetime,
) -> str | None:
    if hold.status(now) != HoldStatus.STANDING:
        return "This hold no longer stands."
    if hold.group is not None and not operator.covers_groups(frozenset({hold.group})):
        return "This group is outside your scope: someone whose scope covers it lifts it."
    on_self = own is not None and hold.applies_to(operator.person, own)
    try:
        check_lifter(hold, operator, rules, now=now, on_self=on_self)
    except DomainError as exc:
        return in_words(exc)
    return None


def lines(
    svc: Services, operator: Operator, views: list[HoldView], *, subject_id: str | None = None
) -> list[HoldLine]:
    """``views`` as the page shows them; ``subject_id``: the subject whose page
    it is (its own holds read "this subject")."""
    rules, now = hold_rules(svc), svc.clock.now()
    with svc.uow(read_only=True) as uow:
        own_subject = uow.subjects.get(operator.person)
    own = None if own_subject is None else own_subject.groups
    result = []
    for v in views:
        h = v.hold
        on = "this subject" if subject_id is not None and h.subject_id == subject_id else h.target
        result.append(
            HoldLine(
                id=h.id,
                kind=h.kind,
                words=hold_words(h.kind),
                on=on,
                subject_id=h.subject_id,
                reason=h.reason,
                ticket=h.ticket,
                status=str(v.status),
                set_by=v.set_by,
                set_at=h.set_at,
                ends_at=h.ends_at,
                lifted_by=v.lifted_by,
                lifted_at=h.lifted_at,
                lift_reason=h.lift_reason,
                cannot_lift=_cannot_lift(operator, rules, h, own=own, now=now),
            )
        )
    return result


def subject_holds(svc: Services, operator: Operator, subject_id: str) -> list[HoldLine]:
    """The holds standing on the subject and on its groups."""
    views = queries.list_holds(
        svc, operator, subject_id=subject_id, status=HoldStatus.STANDING, limit=100
    )
    return lines(svc, operator, views, subject_id=subject_id)


def require_holds_reader(operator: Operator, rules: HoldRules) -> None:
    """The holds list is for auditors and for whoever sets or lifts holds.
    Raises NotAuthorized."""
    if not (
        operator.has_role(Role.AUDITOR) or may_set(operator, rules) or may_lift(operator, rules)
    ):
        raise NotAuthorized(
            "the holds list is for auditors and for the operators who set or lift holds"
        )


def holds_page(
    svc: Services, operator: Operator, *, status: str, subject: str, group: str
) -> HoldsPage:
    """The holds list (standing ones by default), filtered by subject or group.
    Raises NotAuthorized, InvalidInput, NotFound (a subject outside the scope)."""
    rules = hold_rules(svc)
    require_holds_reader(operator, rules)
    views = queries.list_holds(
        svc,
        operator,
        subject_id=subject or None,
        group=group or None,
        status=queries.parse_status(status),
    )
    return HoldsPage(
        holds=lines(svc, operator, views),
        status=status or "standing",
        statuses=[str(s) for s in HoldStatus] + ["all"],
        kinds=sorted(rules.kinds),
        subject=subject,
        group=group,
        cannot_set=cannot_set(operator, rules),
    )
