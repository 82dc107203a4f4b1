"""Incident campaigns: containment of every member of a group as one governed act
(docs/campaigns.md). Plain data and the rules that guard it; no I/O.

A campaign moves::

    awaiting_approval -> running <-> paused
    awaiting_approval | running | paused -> cancelled
    running -> finished

It is approved ONCE for all its subjects by ``approvals`` distinct people, none
of them the starter (R-32, R-33); each subject then gets one case of its own,
opened by the worker in batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from custos.domain import sod
from custos.domain.errors import (
    CampaignNotActive,
    CampaignSelfApproval,
    InvalidInput,
    NotAuthorized,
)
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.identities import CredentialAction, Operator, Role


class CampaignAction(StrEnum):
    """What a campaign does to each subject, as the CLI spells it."""

    FORCE_RESET = "force-reset"
    REVOKE_SESSIONS = "revoke-sessions"
    REISSUE = "reissue"

    @property
    def credential_action(self) -> CredentialAction:
        return _CREDENTIAL[self]


_CREDENTIAL = {
    CampaignAction.FORCE_RESET: CredentialAction.FORCE_RESET,
    CampaignAction.REVOKE_SESSIONS: CredentialAction.REVOKE_SESSIONS,
    CampaignAction.REISSUE: CredentialAction.REISSUE,
}


class CampaignState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


C = CampaignState
MOVES: dict[CampaignState, frozenset[CampaignState]] = {
    C.AWAITING_APPROVAL: frozenset({C.RUNNING, C.CANCELLED}),
    C.RUNNING: frozenset({C.PAUSED, C.CANCELLED, C.FINISHED}),
    C.PAUSED: frozenset({C.RUNNING, C.CANCELLED}),
    C.CANCELLED: frozenset(),
    C.FINISHED: frozenset(),
}


class MemberState(StrEnum):
    """One subject of a campaign: waiting, its case opened (exactly once), or
    skipped (the campaign was cancelled before its turn)."""

    PENDING = "pending"
    OPENED = "opened"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CampaignApproval:
    operator_id: str
    person: str
    at: datetime
    reason: str


@dataclass(slots=True)
class Campaign:
    id: str
    group: str
    action: CampaignAction
    reason: str
    ticket: str
    state: CampaignState
    started_by: str  # the starter's actor
    started_by_person: str
    started_at: datetime
    updated_at: datetime
    required_approvals: int
    approver_groups: frozenset[str] = frozenset()
    approvals: list[CampaignApproval] = field(default_factory=list)
    finished_at: datetime | None = None
    pending_events: list[DomainEvent] = field(default_factory=list)

    def emit(
        self,
        type_: EventType,
        *,
        at: datetime,
        actor: str,
        reason: str = "",
        outcome: Outcome = Outcome.SUCCESS,
        **data: object,
    ) -> DomainEvent:
        event = DomainEvent(
            type=type_,
            occurred_at=at,
            actor=actor,
            subject_id=None,
            case_id=None,
            outcome=outcome,
            reason=reason,
            data={
                "campaign": self.id,
                "group": self.group,
                "action": str(self.action),
                "ticket": self.ticket,
                **data,
            },
        )
        self.pending_events.append(event)
        return event

    def move(self, target: CampaignState, *, at: datetime) -> None:
        if target not in MOVES[self.state]:
            raise CampaignNotActive(
                f"campaign {self.id} is {self.state}; it cannot become {target}",
                campaign=self.id,
                state=str(self.state),
            )
        self.state = target
        self.updated_at = at
        if target in (C.CANCELLED, C.FINISHED):
            self.finished_at = at

    def resume(self, *, at: datetime) -> None:
        """Run a paused campaign again. Only a paused one: a campaign awaiting
        its approvals runs once they are given, never by a resume (R-32)."""
        if self.state != C.PAUSED:
            raise CampaignNotActive(
                f"campaign {self.id} is {self.state}, not paused: nothing to resume",
                campaign=self.id,
                state=str(self.state),
            )
        self.move(C.RUNNING, at=at)

    def check_approver(self, operator: Operator) -> None:
        """Raise unless ``operator`` may add an approval now: the approver role,
        the policy's approver groups, never the starter, one person once.
        Raises NotAuthorized, CampaignSelfApproval, CampaignNotActive."""
        if self.state != C.AWAITING_APPROVAL:
            raise CampaignNotActive(
                f"campaign {self.id} is not awaiting approval (state '{self.state}')",
                campaign=self.id,
                state=str(self.state),
            )
        sod.check_role(operator, Role.APPROVER)
        if operator.person == self.started_by_person:
            raise CampaignSelfApproval(
                "the starter of a campaign cannot approve it (R-32)", rule="starter"
            )
        if any(a.person == operator.person for a in self.approvals):
            raise CampaignSelfApproval(
                "this person has already approved the campaign; one person counts once (R-33)",
                rule="already_approved",
            )
        if self.approver_groups and not (self.approver_groups & operator.groups):
            raise NotAuthorized(
                "campaign approvals must come from: " + ", ".join(sorted(self.approver_groups)),
                rule="approver_groups",
            )

    def approve(self, operator: Operator, *, at: datetime, reason: str) -> bool:
        """Add one approval (checked); True when the quorum is met and the
        campaign now runs."""
        self.check_approver(operator)
        self.approvals.append(CampaignApproval(operator.id, operator.person, at, reason))
        distinct = len({a.person for a in self.approvals})
        self.emit(
            EventType.CAMPAIGN_APPROVED,
            at=at,
            actor=operator.actor,
            reason=reason,
            approvals=distinct,
            required=self.required_approvals,
        )
        if distinct >= self.required_approvals:
            self.move(C.RUNNING, at=at)
            return True
        return False


def check_text(value: str, *, what: str, limit: int = 2000) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"a campaign needs {what}")
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    return value
