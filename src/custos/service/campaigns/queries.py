"""Reading campaigns for the faces: one campaign's progress, and the list."""

from __future__ import annotations

from dataclasses import dataclass

from custos.domain.campaigns import Campaign
from custos.domain.errors import NotFound
from custos.domain.model import Operator
from custos.domain.states import CaseState
from custos.service.campaigns.execution import SETTLED
from custos.service.ports import Services


@dataclass(frozen=True, slots=True)
class Progress:
    campaign: Campaign
    subjects: int
    pending: int  # members without a case yet
    skipped: int  # members a cancellation skipped
    settled: int  # members whose case is settled (completed, needs_attention, ...)
    completed: int
    cases: dict[str, int]  # case state -> count

    @property
    def done(self) -> int:
        """Members the campaign is finished with: settled or skipped."""
        return self.settled + self.skipped


def progress(svc: Services, operator: Operator, campaign_id: str) -> Progress:
    """A campaign's progress. Raises NotFound (also for one outside the
    operator's scope: nothing is revealed)."""
    with svc.uow(read_only=True) as uow:
        campaign = in_scope(operator, uow.campaigns.get(campaign_id))
        counts = uow.campaigns.counts(campaign_id)
        states = uow.campaigns.case_states(campaign_id)
    cases: dict[str, int] = {}
    for state in states.values():
        cases[state] = cases.get(state, 0) + 1
    return Progress(
        campaign=campaign,
        subjects=sum(counts.values()),
        pending=counts["pending"],
        skipped=counts["skipped"],
        settled=sum(1 for s in states.values() if CaseState(s) in SETTLED),
        completed=cases.get(str(CaseState.COMPLETED), 0),
        cases=dict(sorted(cases.items())),
    )


def in_scope(operator: Operator, campaign: Campaign) -> Campaign:
    """``campaign`` when its group is in the operator's scope; otherwise
    NotFound, as if there were none (nothing about it is revealed)."""
    if not operator.covers_groups(frozenset({campaign.group})):
        raise NotFound(f"no campaign '{campaign.id}'", campaign=campaign.id)
    return campaign


def listing(svc: Services, operator: Operator) -> list[Campaign]:
    """Every campaign in the operator's scope, newest first."""
    with svc.uow(read_only=True) as uow:
        return [c for c in uow.campaigns.all() if operator.covers_groups(frozenset({c.group}))]
