"""Incident campaigns on the console's pages (docs/console.md#campaigns): the
list, one campaign with its live progress (done, failed, pending, the rate)
and, for this operator, which actions apply and if not why, in plain words.
The rules are ``domain/campaigns.py``'s and the commands'; the commands check
them again when they run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from custos.domain import sod
from custos.domain.campaigns import MOVES, Campaign, CampaignAction, CampaignState
from custos.domain.errors import DomainError, NotAuthorized
from custos.domain.model import Operator, Role
from custos.domain.states import CaseState
from custos.service.campaigns import queries
from custos.service.campaigns.queries import Progress
from custos.service.console.actors import label, operator_names
from custos.service.console.wording import as_sentence, rule_words
from custos.service.ports import Services

#: Why an operator may not approve a campaign, by the rule the domain names.
RULES = {
    "starter": "You started this campaign: two other people must approve it.",
    "already_approved": "You already approved this campaign; a second, different person "
    "must approve it. One person counts once, whatever accounts or roles they have.",
}
#: Seconds between two refreshes of the progress while the campaign runs.
POLL_SECONDS = 3
#: Case states that count as failed: settled without the credential changed.
FAILED = frozenset(
    {
        str(CaseState.NEEDS_ATTENTION),
        str(CaseState.CANCELLED),
        str(CaseState.DENIED),
        str(CaseState.EXPIRED),
    }
)


def in_words(exc: DomainError) -> str:
    """A refusal of a campaign command as the console says it."""
    words = rule_words(exc, RULES)
    if words is not None:
        return words
    rule = exc.details.get("rule")
    if rule == "approver_groups" or (isinstance(exc, NotAuthorized) and "role" in exc.details):
        return as_sentence(exc, tail=" (you are not).")
    return as_sentence(exc)


@dataclass(frozen=True, slots=True)
class Counts:
    subjects: int
    done: int
    failed: int
    pending: int
    skipped: int
    cases: dict[str, int]
    #: Members settled per minute since the campaign began running; None
    #: before it ran or before a minute's worth of data.
    per_minute: float | None
    #: Seconds between refreshes; None: the progress no longer changes.
    poll_seconds: int | None


@dataclass(frozen=True, slots=True)
class CampaignLine:
    campaign: Campaign
    counts: Counts
    #: Who started it, by name.
    started_by: str


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    campaign: Campaign
    counts: Counts
    #: Who started it, by name.
    started_by: str
    #: Why this operator cannot approve; None: the approve form is shown.
    cannot_approve: str | None
    #: The moves this operator may make now (pause, resume, cancel).
    moves: list[str]
    #: Why no move is offered; None when some is.
    cannot_move: str | None
    may_read_report: bool


def _running_since(campaign: Campaign) -> datetime | None:
    """When the approval that met the quorum was given (the campaign ran from then)."""
    if len({a.person for a in campaign.approvals}) < campaign.required_approvals:
        return None
    return max(a.at for a in campaign.approvals)


def _aware(value: datetime) -> datetime:
    """A stored time as UTC (SQLite gives them back naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def counts(p: Progress, now: datetime) -> Counts:
    failed = sum(n for state, n in p.cases.items() if state in FAILED)
    since = _running_since(p.campaign)
    per_minute = None
    if since is not None:
        end = _aware(p.campaign.finished_at) if p.campaign.finished_at else now
        minutes = (end - _aware(since)).total_seconds() / 60
        if minutes >= 1:
            per_minute = round(p.done / minutes, 1)
    live = p.campaign.state in (CampaignState.RUNNING, CampaignState.PAUSED)
    return Counts(
        subjects=p.subjects,
        done=p.completed,
        failed=failed,
        pending=p.subjects - p.settled - p.skipped,
        skipped=p.skipped,
        cases=p.cases,
        per_minute=per_minute,
        poll_seconds=POLL_SECONDS if live else None,
    )


def may_start(operator: Operator) -> bool:
    return operator.has_role(Role.REQUESTER)


def may_read_report(operator: Operator) -> bool:
    return any(operator.has_role(r) for r in (Role.AUDITOR, Role.APPROVER, Role.REQUESTER))


def campaigns_page(svc: Services, operator: Operator) -> list[CampaignLine]:
    """Every campaign in the operator's scope, newest first, with its counts."""
    now = svc.clock.now()
    names = _names(svc)
    return [
        CampaignLine(
            c, counts(queries.progress(svc, operator, c.id), now), label(c.started_by, names)
        )
        for c in queries.listing(svc, operator)
    ]


def _names(svc: Services) -> dict[str, str]:
    with svc.uow(read_only=True) as uow:
        return operator_names(uow)


def _cannot_approve(operator: Operator, campaign: Campaign) -> str | None:
    try:
        campaign.check_approver(operator)
    except DomainError as exc:
        if campaign.state != CampaignState.AWAITING_APPROVAL:
            return f"This campaign is {campaign.state.replace('_', ' ')}: nothing to approve."
        return in_words(exc)
    return None


def campaign_detail(svc: Services, operator: Operator, campaign_id: str) -> CampaignDetail:
    """One campaign. Raises NotFound (also for one outside the operator's scope)."""
    p = queries.progress(svc, operator, campaign_id)
    c = p.campaign
    possible = [
        name
        for name, state in (
            ("pause", CampaignState.PAUSED),
            ("resume", CampaignState.RUNNING),
            ("cancel", CampaignState.CANCELLED),
        )
        if state in MOVES[c.state] and not (name == "resume" and c.state != CampaignState.PAUSED)
    ]
    cannot_move = None
    try:
        sod.check_role(operator, Role.REQUESTER)
    except NotAuthorized:
        cannot_move = (
            "Pausing, resuming and cancelling need the requester role." if possible else None
        )
        possible = []
    if not possible and cannot_move is None:
        cannot_move = f"This campaign is {c.state.replace('_', ' ')}: it cannot change any more."
    return CampaignDetail(
        campaign=c,
        counts=counts(p, svc.clock.now()),
        started_by=label(c.started_by, _names(svc)),
        cannot_approve=_cannot_approve(operator, c),
        moves=possible,
        cannot_move=cannot_move if not possible else None,
        may_read_report=may_read_report(operator),
    )


def live_counts(svc: Services, operator: Operator, campaign_id: str) -> tuple[Campaign, Counts]:
    """The campaign and its counts (the live part). Raises NotFound."""
    p = queries.progress(svc, operator, campaign_id)
    return p.campaign, counts(p, svc.clock.now())


#: The actions a campaign may take, as the start form offers them.
ACTIONS = [str(a) for a in CampaignAction]
