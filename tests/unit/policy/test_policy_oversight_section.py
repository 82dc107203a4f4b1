"""The policy's ``oversight`` section (docs/policy.md#oversight): defaults when
absent, thresholds read from the file, and inconsistent ones refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import custos.policy
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
