"""Holds: a legal hold, an incident freeze, a fraud hold (or a kind the policy
adds) on one subject or on a group of subjects. While one stands, nothing
recovers the subject (``recovery_blocked``) and its open cases wait in
``blocked``; they go back where they were when the last hold ends.

Rules, enforced here for every face (docs/holds.md):

* a hold names its kind, the subject or the group, a reason and a ticket; it
  may have an end time, after which it no longer stands;
* a group hold applies to every subject whose groups include it, subjects that
  join the group later included;
* only an operator with the policy's setting role (and group, when it names
  some) sets one, within their scope;
* lifting takes the policy's lifting role (default: an approver in
  ``security-approvers``) and a different person from the one who set it
  (``hold_lift_by_setter``); nobody lifts a hold on themselves.

Plain data and checks; the store keeps the records, ``service/holds`` runs
the commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from custos.domain.errors import (
    HoldLiftBySetter,
    HoldNotStanding,
    InvalidInput,
    NotAuthorized,
    SeparationOfDuties,
)
from custos.domain.identities import Hold, Operator, Role
from custos.domain.instants import named_time

#: The kinds every policy knows; a policy's ``holds.kinds`` adds to them.
BUILT_IN_KINDS: frozenset[str] = frozenset(str(h) for h in Hold)
#: How a hold kind is spelt (built-in ones and those a policy adds).
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_REASON = 2000


class HoldStatus(StrEnum):
    STANDING = "standing"
    LIFTED = "lifted"
    #: The end time passed (whether or not the worker recorded it yet).
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """One hold. Exactly one of ``subject_id`` and ``group`` is set. ``set_by``
    and ``lifted_by`` are actors (``operator:<id>``, ``subject:<id>``,
    ``system:custos``); ``*_person`` the person behind them, compared for
    separation of duties (None for Custos itself)."""

    id: str
    kind: str
    subject_id: str | None
    group: str | None
    reason: str
    ticket: str | None
    set_by: str
    set_by_person: str | None
    set_at: datetime
    ends_at: datetime | None = None
    lifted_by: str | None = None
    lifted_by_person: str | None = None
    lifted_at: datetime | None = None
    lift_reason: str | None = None
    #: When the worker recorded that the end time passed.
    expired_at: datetime | None = None

    def status(self, now: datetime) -> HoldStatus:
        if self.lifted_at is not None:
            return HoldStatus.LIFTED
        if self.expired_at is not None or (self.ends_at is not None and self.ends_at <= now):
            return HoldStatus.EXPIRED
        return HoldStatus.STANDING

    def stands(self, now: datetime) -> bool:
        """Whether the hold blocks recovery at ``now``: neither lifted nor past
        its end time (read-time: the worker's sweep only records it)."""
        return self.status(now) == HoldStatus.STANDING

    def stood_at(self, at: datetime) -> bool:
        """Whether the hold stood at a past moment ``at``: set by then, and not
        yet lifted, past its end time or recorded expired (policy simulation
        looks back with it)."""
        ended = (self.lifted_at, self.ends_at, self.expired_at)
        return self.set_at <= at and all(t is None or t > at for t in ended)

    def applies_to(self, subject_id: str, groups: frozenset[str]) -> bool:
        """Whether the hold is on this subject or on one of its groups."""
        if self.subject_id is not None:
            return self.subject_id == subject_id
        return self.group in groups

    @property
    def target(self) -> str:
        """What the hold is on, in words: ``subject 'bob'`` or ``group 'finance'``."""
        if self.subject_id is not None:
            return f"subject '{self.subject_id}'"
        return f"group '{self.group}'"


@dataclass(frozen=True, slots=True)
class HoldRules:
    """What the policy file says about holds (``holds:``, docs/policy.md)."""

    kinds: frozenset[str] = BUILT_IN_KINDS
    set_role: Role = Role.APPROVER
    set_groups: frozenset[str] = frozenset()
    lift_role: Role = Role.APPROVER
    lift_groups: frozenset[str] = frozenset({"security-approvers"})


def check_kind(kind: str, rules: HoldRules) -> str:
    """``kind`` if the policy knows it. Raises InvalidInput."""
    if kind not in rules.kinds:
        raise InvalidInput(
            f"unknown hold kind '{kind[:50]}'; known: {', '.join(sorted(rules.kinds))}",
            known=sorted(rules.kinds),
        )
    return kind


def check_reason(reason: str, *, what: str) -> str:
    """``reason`` stripped, 1 to MAX_REASON characters. Raises InvalidInput."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"{what} needs a reason of 1 to {MAX_REASON} characters")
    return reason


def check_ends_at(ends_at: datetime | None, now: datetime) -> datetime | None:
    """An end time in the future (timezone-aware), or None. Raises InvalidInput."""
    if ends_at is None:
        return None
    ends_at = named_time(ends_at, what="the end time")
    if ends_at <= now:
        raise InvalidInput("the end time of a hold must lie in the future")
    return ends_at


def _check_access(operator: Operator, role: Role, groups: frozenset[str], *, act: str) -> None:
    if not operator.has_role(role):
        raise NotAuthorized(f"{act} a hold needs the '{role}' role", role=str(role))
    # Membership is asked of admins too: the policy names who lifts, not the rank.
    if groups and not (groups & operator.groups):
        raise NotAuthorized(
            f"{act} a hold needs membership of: {', '.join(sorted(groups))}",
            rule="hold_groups",
            groups=sorted(groups),
        )


def may_set(operator: Operator, rules: HoldRules) -> bool:
    """Whether ``operator`` has what the policy asks of whoever sets a hold."""
    try:
        _check_access(operator, rules.set_role, rules.set_groups, act="setting")
    except NotAuthorized:
        return False
    return True


def may_lift(operator: Operator, rules: HoldRules) -> bool:
    """Whether ``operator`` has what the policy asks of whoever lifts a hold
    (the setter rule aside: :func:`check_lifter` adds it)."""
    try:
        _check_access(operator, rules.lift_role, rules.lift_groups, act="lifting")
    except NotAuthorized:
        return False
    return True


def check_setter(operator: Operator, rules: HoldRules, *, subject_id: str | None) -> None:
    """Whether ``operator`` may set a hold (scope is the caller's check, it needs
    the subject's groups). Raises NotAuthorized, SeparationOfDuties (a hold on
    oneself)."""
    _check_access(operator, rules.set_role, rules.set_groups, act="setting")
    if subject_id is not None and operator.person == subject_id:
        raise SeparationOfDuties("nobody sets a hold on their own account", rule="own_hold")


def check_lifter(
    hold: HoldRecord, operator: Operator, rules: HoldRules, *, now: datetime, on_self: bool
) -> None:
    """Whether ``operator`` may lift ``hold`` now; ``on_self``: the hold applies
    to the operator's own account (as a subject, directly or by a group).
    Raises HoldNotStanding, NotAuthorized, HoldLiftBySetter, SeparationOfDuties."""
    status = hold.status(now)
    if status != HoldStatus.STANDING:
        raise HoldNotStanding(f"hold {hold.id} is not standing any more ({status})", hold=hold.id)
    _check_access(operator, rules.lift_role, rules.lift_groups, act="lifting")
    if hold.set_by_person is not None and operator.person == hold.set_by_person:
        raise HoldLiftBySetter(
            f"hold {hold.id} was set by this person; a different person must lift it",
            hold=hold.id,
            rule="hold_setter",
        )
    if on_self:
        raise SeparationOfDuties("nobody lifts a hold on their own account", rule="own_hold")


def kinds_in_words(kinds: frozenset[str]) -> str:
    """``legal_hold, fraud``: the kinds, sorted, for messages and reasons."""
    return ", ".join(sorted(kinds))
