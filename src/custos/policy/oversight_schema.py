"""The policy's ``oversight`` section (docs/policy.md#oversight): the window a
flood of refusals is summarised over (R-36) and the thresholds of operator
anomaly detection (docs/oversight.md). Every key has a default, so a policy
without the section watches its operators all the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictFloat,
    StrictInt,
    model_validator,
)

from custos.oversight.anomalies import Thresholds


def _duration(value: object) -> timedelta:
    # Imported when a value is validated: custos.policy.schema imports this module.
    from custos.policy.schema import parse_duration

    return parse_duration(value)


Duration = Annotated[timedelta, PlainValidator(_duration)]

Share = Annotated[StrictFloat | StrictInt, Field(ge=0, le=1)]
Positive = Annotated[StrictInt, Field(ge=1, le=100_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnomalyThresholds(_Model):
    """When an operator's recent work deviates enough from their baseline."""

    #: History the baseline is computed from, and the recent period judged against it.
    lookback: Duration = timedelta(days=30)
    recent: Duration = timedelta(days=1)
    #: Recoveries handled in the recent period: more than ``volume_factor`` times
    #: the baseline's daily mean, and at least ``volume_min``.
    volume_factor: Annotated[StrictFloat | StrictInt, Field(gt=1, le=1000)] = 3
    volume_min: Positive = 10
    #: Share of privileged subjects: up by at least this much, over at least ``min_cases``.
    privileged_share_increase: Share = 0.3
    min_cases: Positive = 5
    #: Working hours (UTC, ``start`` <= hour < ``end``); work outside them up by this share.
    work_starts: Annotated[StrictInt, Field(ge=0, le=23)] = 7
    work_ends: Annotated[StrictInt, Field(ge=1, le=24)] = 20
    off_hours_share_increase: Share = 0.5
    off_hours_min: Positive = 3
    #: Approvals faster than this after the case opened; alert from ``fast_approvals_min``.
    fast_approval: Duration = timedelta(minutes=2)
    fast_approvals_min: Positive = 3
    #: One requester's share of an approver's approvals, over at least ``pair_min_approvals``.
    pair_share: Share = 0.6
    pair_min_approvals: Positive = 6
    #: Consecutive approvals without a denial.
    approval_streak: Positive = 30
    #: Failed proofs on a case before one passed.
    failures_before_success: Positive = 3
    #: Subjects outside the groups of the baseline, once it holds ``groups_min_history`` subjects.
    groups_min_history: Positive = 10
    unusual_subjects_min: Positive = 2

    @model_validator(mode="after")
    def _hours_in_order(self) -> AnomalyThresholds:
        if self.work_starts >= self.work_ends:
            raise ValueError("work_starts must be before work_ends")
        if self.recent >= self.lookback:
            raise ValueError("recent must be shorter than lookback")
        return self

    def thresholds(self) -> Thresholds:
        return Thresholds(
            lookback=self.lookback,
            recent=self.recent,
            volume_factor=float(self.volume_factor),
            volume_min=self.volume_min,
            privileged_share_increase=float(self.privileged_share_increase),
            min_cases=self.min_cases,
            work_starts=self.work_starts,
            work_ends=self.work_ends,
            off_hours_share_increase=float(self.off_hours_share_increase),
            off_hours_min=self.off_hours_min,
            fast_approval=self.fast_approval,
            fast_approvals_min=self.fast_approvals_min,
            pair_share=float(self.pair_share),
            pair_min_approvals=self.pair_min_approvals,
            approval_streak=self.approval_streak,
            failures_before_success=self.failures_before_success,
            groups_min_history=self.groups_min_history,
            unusual_subjects_min=self.unusual_subjects_min,
        )


class OversightSection(_Model):
    #: Refusals of one actor and kind are counted per window of this length;
    #: the ledger gets the first in full and, once the window closes, its count.
    refusal_window: Duration = timedelta(minutes=5)
    anomalies: AnomalyThresholds = AnomalyThresholds()
