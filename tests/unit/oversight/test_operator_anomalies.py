"""Operator anomaly detection on seeded histories (docs/oversight.md): each
signal must alert on the history built to show it, and a steady, ordinary
history must raise nothing (a false positive fails as surely as a miss)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from custos.oversight.anomalies import (
    Action,
    ActionKind,
    Signal,
    Thresholds,
    baselines,
    detect,
)
from custos.oversight.refusals import ledger_entries_for, window_start

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
T = Thresholds()
_seq = count(1)


def _act(
    operator: str,
    kind: ActionKind,
    at: datetime,
    *,
    case: str | None = None,
    subject: str = "ivy",
    privileged: bool = False,
    groups: tuple[str, ...] = ("finance",),
    requester: str | None = None,
    opened_at: datetime | None = None,
) -> Action:
    seq = next(_seq)
    return Action(
        seq=seq,
        event_id=f"ev-{seq}",
        at=at,
        operator=operator,
        kind=kind,
        case_id=case or f"case-{seq}",
        subject_id=subject,
        privileged=privileged,
        groups=frozenset(groups),
        requester=requester,
        opened_at=opened_at,
    )


def _ordinary(operator: str = "op:ann", days: int = 29) -> list[Action]:
    """Three recoveries a working day at 10:00-12:00, ordinary subjects of
    several groups, approvals an hour after opening, requesters varied, a
    denial now and then: nothing here is unusual."""
    actions: list[Action] = []
    for day in range(days, 0, -1):
        base = (NOW - timedelta(days=day)).replace(hour=10, minute=0)
        for i in range(3):
            at = base + timedelta(minutes=40 * i)
            kind = ActionKind.DENIED if (day + i) % 5 == 0 else ActionKind.APPROVED
            actions.append(
                _act(
                    operator,
                    kind,
                    at,
                    subject=f"s{(day * 3 + i) % 15}",
                    groups=(("finance", "sales", "hr")[i],),
                    requester=f"op:req{(day + i) % 4}",
                    opened_at=at - timedelta(hours=1),
                )
            )
    return actions


def _recent(operator: str = "op:ann", n: int = 3, **kw: object) -> list[Action]:
    start = NOW.replace(hour=10)
    return [
        _act(
            operator,
            ActionKind.APPROVED,
            start + timedelta(minutes=30 * i),
            subject=f"s{i}",
            groups=(("finance", "sales", "hr")[i % 3],),
            requester=f"op:req{i % 4}",
            opened_at=start + timedelta(minutes=30 * i) - timedelta(hours=1),
        )
        for i in range(n)
    ]


def _signals(actions: list[Action]) -> set[Signal]:
    return {a.signal for a in detect(actions, now=NOW, t=T)}


def test_ordinary_history_raises_no_alert() -> None:
    """A steady operator whose recent day looks like every other raises nothing."""
    assert detect([*_ordinary(), *_recent()], now=NOW, t=T) == []


def test_new_operator_with_a_few_cases_raises_no_alert() -> None:
    """No history and three ordinary recoveries today: no baseline to deviate
    from, and too few actions for any signal's minimum."""
    assert detect(_recent("op:new"), now=NOW, t=T) == []


def test_volume_far_above_baseline_alerts() -> None:
    actions = [*_ordinary(), *_recent(n=16)]
    alerts = [a for a in detect(actions, now=NOW, t=T) if a.signal == Signal.VOLUME]
    assert len(alerts) == 1 and alerts[0].operator == "op:ann"
    assert len(alerts[0].entries) == 16
    assert {e["id"] for e in alerts[0].entries} <= {a.event_id for a in actions}


def test_volume_within_factor_raises_no_alert() -> None:
    assert Signal.VOLUME not in _signals([*_ordinary(), *_recent(n=8)])


def test_privileged_share_jump_alerts() -> None:
    recent = [
        _act(
            "op:ann",
            ActionKind.APPROVED,
            NOW.replace(hour=11) + timedelta(minutes=i),
            subject=f"root{i}",
            privileged=True,
            opened_at=NOW.replace(hour=9),
        )
        for i in range(5)
    ]
    assert Signal.PRIVILEGED_SHARE in _signals([*_ordinary(), *recent])


def test_off_hours_work_alerts_only_when_unusual() -> None:
    night = [
        _act(
            "op:ann",
            ActionKind.APPROVED,
            NOW.replace(hour=2) + timedelta(minutes=i),
            opened_at=NOW.replace(hour=1),
        )
        for i in range(4)
    ]
    assert Signal.OFF_HOURS in _signals([*_ordinary(), *night])
    night_shift = [
        _act(
            "op:owl",
            a.kind,
            a.at.replace(hour=2),
            subject=a.subject_id,
            groups=tuple(a.groups),
            requester=a.requester,
            opened_at=a.at.replace(hour=1),
        )
        for a in _ordinary("op:owl")
    ]
    owl_night = [
        _act(
            "op:owl",
            ActionKind.APPROVED,
            NOW.replace(hour=2) + timedelta(minutes=i),
            subject="s1",
            requester=f"op:req{i}",
            opened_at=NOW.replace(hour=1),
        )
        for i in range(4)
    ]
    assert Signal.OFF_HOURS not in _signals([*night_shift, *owl_night])


def test_approvals_seconds_after_opening_alert() -> None:
    fast = [
        _act(
            "op:ann",
            ActionKind.APPROVED,
            NOW.replace(hour=11, minute=i),
            requester=f"op:req{i}",
            opened_at=NOW.replace(hour=11, minute=i) - timedelta(seconds=20),
        )
        for i in range(3)
    ]
    assert Signal.FAST_APPROVAL in _signals([*_ordinary(), *fast])


def test_same_requester_approver_pair_alerts() -> None:
    pair = [
        _act(
            "op:bob",
            ActionKind.APPROVED,
            NOW - timedelta(days=d, hours=6),
            requester="op:mallory",
            opened_at=NOW - timedelta(days=d, hours=7),
        )
        for d in range(7)
    ]
    alerts = [a for a in detect(pair, now=NOW, t=T) if a.signal == Signal.SAME_PAIR]
    assert len(alerts) == 1 and alerts[0].measured["requester"] == "op:mallory"


def test_long_approval_streak_alerts_and_a_denial_breaks_it() -> None:
    streak = [
        _act(
            "op:bob",
            ActionKind.APPROVED,
            NOW - timedelta(hours=40 - i),
            requester=f"op:req{i % 5}",
            opened_at=NOW - timedelta(hours=41 - i),
        )
        for i in range(31)
    ]
    assert Signal.APPROVAL_STREAK in _signals(streak)
    broken = [*streak[:20], _act("op:bob", ActionKind.DENIED, streak[20].at), *streak[21:]]
    broken.sort(key=lambda a: a.at)
    assert Signal.APPROVAL_STREAK not in _signals(broken)


def test_proofing_failures_before_success_alert() -> None:
    at = NOW.replace(hour=11)
    tries = [
        _act("op:hana", ActionKind.PROOF_FAILED, at + timedelta(minutes=i), case="c-1")
        for i in range(3)
    ]
    tries.append(_act("op:hana", ActionKind.PROOF_PASSED, at + timedelta(minutes=5), case="c-1"))
    alerts = [a for a in detect(tries, now=NOW, t=T) if a.signal == Signal.PROOFING_FAILURES]
    assert len(alerts) == 1 and len(alerts[0].entries) == 4
    two = [*tries[:2], tries[3]]
    assert Signal.PROOFING_FAILURES not in _signals(two)


def test_subjects_outside_usual_groups_alert() -> None:
    odd = [
        _act(
            "op:ann",
            ActionKind.APPROVED,
            NOW.replace(hour=11, minute=i),
            subject=f"exec{i}",
            groups=("board",),
            requester=f"op:req{i}",
            opened_at=NOW.replace(hour=10),
        )
        for i in range(2)
    ]
    assert Signal.UNUSUAL_GROUPS in _signals([*_ordinary(), *odd])
    assert Signal.UNUSUAL_GROUPS not in _signals([*_ordinary(), *_recent()])


def test_baselines_describe_each_operator() -> None:
    found = {b.operator: b for b in baselines([*_ordinary(), *_recent()], now=NOW, t=T)}
    ann = found["op:ann"]
    assert 2.0 <= ann.recoveries_per_day <= 3.0  # denials are not recoveries
    assert ann.off_hours_share == 0 and ann.privileged_share == 0
    assert ann.median_approval_seconds == 3600


def test_refusal_windows_bound_the_ledger() -> None:
    """R-36: windows align on the epoch, and any counts cost at most two entries."""
    at = datetime(2026, 12, 6, 14, 7, 31, tzinfo=UTC)
    assert window_start(at, timedelta(minutes=5)) == datetime(2026, 12, 6, 14, 5, tzinfo=UTC)
    assert ledger_entries_for([1, 10_000, 2]) == 5
    assert ledger_entries_for([1_000_000]) == 2
