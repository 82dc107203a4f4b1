"""Operator anomaly detection (docs/oversight.md): per-operator baselines from
the ledger and the deviations of the recent period from them. Pure: the
service turns ledger entries into :class:`Action` values and stores, sends and
lists the :class:`Alert` values this module returns.

Signals (each alert names one and carries the ledger entries that show it):

- ``volume``: more recoveries in the recent period than ``volume_factor`` times
  the baseline's daily mean (and at least ``volume_min``);
- ``privileged_share``: the share of privileged subjects up by
  ``privileged_share_increase``;
- ``off_hours``: the share of work outside working hours up by
  ``off_hours_share_increase`` (at least ``off_hours_min`` such actions);
- ``fast_approval``: approvals sooner than ``fast_approval`` after the case opened;
- ``same_pair``: one requester behind ``pair_share`` of an approver's approvals;
- ``approval_streak``: ``approval_streak`` approvals in a row without a denial;
- ``proofing_failures``: ``failures_before_success`` failed proofs on a case
  before one passed;
- ``unusual_groups``: subjects outside every group of the baseline's subjects.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

#: Evidence carried per alert at most (the measured figures give the full count).
MAX_EVIDENCE = 50


class ActionKind(StrEnum):
    OPENED = "opened"
    APPROVED = "approved"
    DENIED = "denied"
    EXECUTED = "executed"
    PROOF_FAILED = "proof_failed"
    PROOF_PASSED = "proof_passed"


#: Actions that handle a recovery (counted as "recoveries" of the operator).
HANDLING = frozenset({ActionKind.OPENED, ActionKind.APPROVED, ActionKind.EXECUTED})


class Signal(StrEnum):
    VOLUME = "volume"
    PRIVILEGED_SHARE = "privileged_share"
    OFF_HOURS = "off_hours"
    FAST_APPROVAL = "fast_approval"
    SAME_PAIR = "same_pair"
    APPROVAL_STREAK = "approval_streak"
    PROOFING_FAILURES = "proofing_failures"
    UNUSUAL_GROUPS = "unusual_groups"


@dataclass(frozen=True, slots=True)
class Action:
    """One ledger entry of an operator's work, with what the signals read."""

    seq: int
    event_id: str
    at: datetime
    operator: str
    kind: ActionKind
    case_id: str
    subject_id: str
    privileged: bool = False
    groups: frozenset[str] = frozenset()
    #: For approvals and denials: who opened the case, and when.
    requester: str | None = None
    opened_at: datetime | None = None

    @property
    def evidence(self) -> dict[str, object]:
        return {"seq": self.seq, "id": self.event_id}


@dataclass(frozen=True, slots=True)
class Thresholds:
    lookback: timedelta = timedelta(days=30)
    recent: timedelta = timedelta(days=1)
    volume_factor: float = 3.0
    volume_min: int = 10
    privileged_share_increase: float = 0.3
    min_cases: int = 5
    work_starts: int = 7
    work_ends: int = 20
    off_hours_share_increase: float = 0.5
    off_hours_min: int = 3
    fast_approval: timedelta = timedelta(minutes=2)
    fast_approvals_min: int = 3
    pair_share: float = 0.6
    pair_min_approvals: int = 6
    approval_streak: int = 30
    failures_before_success: int = 3
    groups_min_history: int = 10
    unusual_subjects_min: int = 2


@dataclass(frozen=True, slots=True)
class Alert:
    operator: str
    signal: Signal
    summary: str
    measured: dict[str, object]
    entries: tuple[dict[str, object], ...]


@dataclass(frozen=True, slots=True)
class Baseline:
    """What an operator's history (before the recent period) looks like."""

    operator: str
    actions: int
    recoveries_per_day: float
    privileged_share: float
    off_hours_share: float
    median_approval_seconds: float | None
    top_pair: tuple[str, float] | None
    approval_streak: int
    max_failures_before_success: int
    usual_groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class _Split:
    history: list[Action]
    recent: list[Action]
    recent_start: datetime
    now: datetime


def _split(actions: Sequence[Action], now: datetime, t: Thresholds) -> _Split:
    recent_start = now - t.recent
    since = now - t.lookback
    ordered = sorted((a for a in actions if since <= a.at <= now), key=lambda a: a.seq)
    return _Split(
        history=[a for a in ordered if a.at < recent_start],
        recent=[a for a in ordered if a.at >= recent_start],
        recent_start=recent_start,
        now=now,
    )


def _days(span: timedelta) -> float:
    return max(span.total_seconds() / 86400, 1 / 24)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _off_hours(action: Action, t: Thresholds) -> bool:
    return not t.work_starts <= action.at.hour < t.work_ends


def _evidence(actions: Iterable[Action]) -> tuple[dict[str, object], ...]:
    picked = list(actions)[-MAX_EVIDENCE:]
    return tuple(a.evidence for a in picked)


def _handled(actions: Iterable[Action]) -> list[Action]:
    return [a for a in actions if a.kind in HANDLING]


def _by_operator(actions: Iterable[Action]) -> dict[str, list[Action]]:
    grouped: dict[str, list[Action]] = defaultdict(list)
    for action in actions:
        grouped[action.operator].append(action)
    return grouped


def _streak(actions: Sequence[Action]) -> list[Action]:
    """The trailing run of approvals since the operator's last denial."""
    run: list[Action] = []
    for action in actions:
        if action.kind == ActionKind.DENIED:
            run = []
        elif action.kind == ActionKind.APPROVED:
            run.append(action)
    return run


def _failures_before_success(actions: Sequence[Action]) -> dict[str, list[Action]]:
    """Per case: the failed proofs and the passing one, when failures came first."""
    found: dict[str, list[Action]] = {}
    pending: dict[str, list[Action]] = defaultdict(list)
    for action in actions:
        if action.kind == ActionKind.PROOF_FAILED:
            pending[action.case_id].append(action)
        elif action.kind == ActionKind.PROOF_PASSED and action.case_id not in found:
            failed = pending.pop(action.case_id, [])
            if failed:
                found[action.case_id] = [*failed, action]
    return found


def _top_pair(approvals: Sequence[Action]) -> tuple[str, int] | None:
    requesters = Counter(a.requester for a in approvals if a.requester)
    if not requesters:
        return None
    requester, count = requesters.most_common(1)[0]
    return requester, count


def baseline_of(operator: str, history: Sequence[Action], t: Thresholds) -> Baseline:
    """The baseline of ``operator`` from ``history`` (their actions before the
    recent period, in ledger order)."""
    handled = _handled(history)
    span = history[-1].at - history[0].at if history else timedelta(0)
    approvals = [a for a in history if a.kind == ActionKind.APPROVED]
    speeds = [(a.at - a.opened_at).total_seconds() for a in approvals if a.opened_at is not None]
    pair = _top_pair(approvals)
    failures = _failures_before_success(history)
    return Baseline(
        operator=operator,
        actions=len(history),
        recoveries_per_day=len(handled) / _days(span + timedelta(days=1)) if handled else 0.0,
        privileged_share=_share(sum(a.privileged for a in handled), len(handled)),
        off_hours_share=_share(sum(_off_hours(a, t) for a in history), len(history)),
        median_approval_seconds=statistics.median(speeds) if speeds else None,
        top_pair=None if pair is None else (pair[0], _share(pair[1], len(approvals))),
        approval_streak=len(_streak(history)),
        max_failures_before_success=max((len(v) - 1 for v in failures.values()), default=0),
        usual_groups=frozenset(g for a in handled for g in a.groups),
    )


def baselines(actions: Sequence[Action], *, now: datetime, t: Thresholds) -> list[Baseline]:
    """Every operator's baseline, by operator name."""
    split = _split(actions, now, t)
    history = _by_operator(split.history)
    operators = sorted(set(history) | {a.operator for a in split.recent})
    return [baseline_of(op, history.get(op, []), t) for op in operators]


def detect(actions: Sequence[Action], *, now: datetime, t: Thresholds) -> list[Alert]:
    """The alerts the recent period (``t.recent`` up to ``now``) raises against
    each operator's baseline (``t.lookback`` before it). An operator with no
    recent action raises nothing."""
    split = _split(actions, now, t)
    history = _by_operator(split.history)
    alerts: list[Alert] = []
    for operator, recent in sorted(_by_operator(split.recent).items()):
        past = history.get(operator, [])
        base = baseline_of(operator, past, t)
        for check in CHECKS:
            alert = check(operator, base, past, recent, t)
            if alert is not None:
                alerts.append(alert)
    return alerts


def _volume(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    handled = _handled(recent)
    per_day = len(handled) / _days(t.recent)
    usual = max(base.recoveries_per_day, 1.0)
    if len(handled) < t.volume_min or per_day <= t.volume_factor * usual:
        return None
    return Alert(
        op,
        Signal.VOLUME,
        f"{len(handled)} recoveries in the recent period ({per_day:.1f} a day) against "
        f"a baseline of {base.recoveries_per_day:.1f} a day",
        {"recent": len(handled), "per_day": round(per_day, 2), "baseline": base.recoveries_per_day},
        _evidence(handled),
    )


def _privileged(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    handled = _handled(recent)
    privileged = [a for a in handled if a.privileged]
    share = _share(len(privileged), len(handled))
    if len(handled) < t.min_cases or share - base.privileged_share < t.privileged_share_increase:
        return None
    return Alert(
        op,
        Signal.PRIVILEGED_SHARE,
        f"{share:.0%} of recent recoveries were of privileged subjects against "
        f"{base.privileged_share:.0%} before",
        {"recent_share": round(share, 3), "baseline_share": round(base.privileged_share, 3)},
        _evidence(privileged),
    )


def _off_hours_work(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    late = [a for a in recent if _off_hours(a, t)]
    share = _share(len(late), len(recent))
    if len(late) < t.off_hours_min or share - base.off_hours_share < t.off_hours_share_increase:
        return None
    return Alert(
        op,
        Signal.OFF_HOURS,
        f"{len(late)} actions outside {t.work_starts:02d}:00-{t.work_ends:02d}:00 UTC "
        f"({share:.0%} of recent work against {base.off_hours_share:.0%} before)",
        {"recent": len(late), "recent_share": round(share, 3), "baseline": base.off_hours_share},
        _evidence(late),
    )


def _fast(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    fast = [
        a
        for a in recent
        if a.kind == ActionKind.APPROVED
        and a.opened_at is not None
        and a.at - a.opened_at < t.fast_approval
    ]
    if len(fast) < t.fast_approvals_min:
        return None
    return Alert(
        op,
        Signal.FAST_APPROVAL,
        f"{len(fast)} approvals less than {int(t.fast_approval.total_seconds())}s after "
        "the case opened",
        {"recent": len(fast), "baseline_median_seconds": base.median_approval_seconds},
        _evidence(fast),
    )


def _pair(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    approvals = [a for a in [*past, *recent] if a.kind == ActionKind.APPROVED]
    top = _top_pair(approvals)
    if top is None or len(approvals) < t.pair_min_approvals:
        return None
    requester, count = top
    share = _share(count, len(approvals))
    if share < t.pair_share or not any(a.requester == requester for a in recent):
        return None
    return Alert(
        op,
        Signal.SAME_PAIR,
        f"{count} of {len(approvals)} approvals were of cases opened by {requester}",
        {"requester": requester, "approvals": len(approvals), "share": round(share, 3)},
        _evidence(a for a in approvals if a.requester == requester),
    )


def _streak_alert(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    run = _streak([*past, *recent])
    recent_ids = {a.seq for a in recent}
    if len(run) < t.approval_streak or not any(a.seq in recent_ids for a in run):
        return None
    return Alert(
        op,
        Signal.APPROVAL_STREAK,
        f"{len(run)} approvals in a row without a denial",
        {"streak": len(run)},
        _evidence(run),
    )


def _proofing(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    cases = {
        case: entries
        for case, entries in _failures_before_success(recent).items()
        if len(entries) - 1 >= t.failures_before_success
    }
    if not cases:
        return None
    worst = max(len(v) - 1 for v in cases.values())
    return Alert(
        op,
        Signal.PROOFING_FAILURES,
        f"{len(cases)} case(s) passed proofing after up to {worst} failed proofs",
        {"cases": sorted(cases), "most_failures": worst},
        _evidence(a for entries in cases.values() for a in entries),
    )


def _groups(
    op: str, base: Baseline, past: list[Action], recent: list[Action], t: Thresholds
) -> Alert | None:
    known_subjects = {a.subject_id for a in _handled(past)}
    if len(known_subjects) < t.groups_min_history:
        return None
    outside = [a for a in _handled(recent) if not (a.groups & base.usual_groups)]
    subjects = sorted({a.subject_id for a in outside})
    if len(subjects) < t.unusual_subjects_min:
        return None
    return Alert(
        op,
        Signal.UNUSUAL_GROUPS,
        f"{len(subjects)} subjects outside the groups this operator usually works on",
        {"subjects": subjects, "usual_groups": sorted(base.usual_groups)},
        _evidence(outside),
    )


CHECKS = (_volume, _privileged, _off_hours_work, _fast, _pair, _streak_alert, _proofing, _groups)
