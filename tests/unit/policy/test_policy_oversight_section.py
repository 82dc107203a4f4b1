"""The policy's ``oversight`` section (docs/policy.md#oversight): defaults when
absent, thresholds read from the file, and inconsistent ones refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import custos.policy
from custos.oversight.anomalies import Thresholds
from custos.policy.loader import PolicyError, parse_policy

DEFAULT = (Path(custos.policy.__file__).parent / "default_policy.yaml").read_text()


def test_policy_without_oversight_section_gets_defaults() -> None:
    section = parse_policy(DEFAULT, "default").document.oversight
    assert section.refusal_window == timedelta(minutes=5)
    assert section.anomalies.thresholds().approval_streak == 30


def test_oversight_thresholds_come_from_the_file() -> None:
    text = DEFAULT + "\noversight:\n  refusal_window: 1m\n  anomalies:\n    approval_streak: 12\n"
    section = parse_policy(text, "candidate").document.oversight
    assert section.refusal_window == timedelta(minutes=1)
    assert section.anomalies.thresholds().approval_streak == 12


def test_recent_period_longer_than_lookback_is_refused() -> None:
    text = DEFAULT + "\noversight:\n  anomalies:\n    lookback: 1d\n    recent: 2d\n"
    with pytest.raises(PolicyError):
        parse_policy(text, "candidate")


def test_every_anomaly_threshold_reaches_the_detector() -> None:
    """Each key of ``oversight.anomalies`` set to a value unlike its default
    arrives in the detector's Thresholds under its own name; shares and the
    volume factor as floats."""
    text = DEFAULT + (
        "\noversight:\n  anomalies:\n"
        "    lookback: 20d\n    recent: 2d\n    volume_factor: 4\n    volume_min: 11\n"
        "    privileged_share_increase: 0.25\n    min_cases: 6\n    work_starts: 8\n"
        "    work_ends: 18\n    off_hours_share_increase: 0.45\n    off_hours_min: 4\n"
        "    fast_approval: 3m\n    fast_approvals_min: 5\n    pair_share: 1\n"
        "    pair_min_approvals: 7\n    approval_streak: 31\n"
        "    failures_before_success: 9\n    groups_min_history: 12\n"
        "    unusual_subjects_min: 13\n"
    )
    got = parse_policy(text, "candidate").document.oversight.anomalies.thresholds()
    assert got == Thresholds(
        lookback=timedelta(days=20),
        recent=timedelta(days=2),
        volume_factor=4.0,
        volume_min=11,
        privileged_share_increase=0.25,
        min_cases=6,
        work_starts=8,
        work_ends=18,
        off_hours_share_increase=0.45,
        off_hours_min=4,
        fast_approval=timedelta(minutes=3),
        fast_approvals_min=5,
        pair_share=1.0,
        pair_min_approvals=7,
        approval_streak=31,
        failures_before_success=9,
        groups_min_history=12,
        unusual_subjects_min=13,
    )
    assert type(got.volume_factor) is float and type(got.pair_share) is float
