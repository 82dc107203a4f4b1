"""Throttling of proofing attempts (R-18, R-20)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custos.domain.errors import Throttled
from custos.proofing.throttle import (
    MAX_CONSECUTIVE_FAILURES,
    check_attempt,
    delay_after,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("failures", [0, 1, 2, 3])
def test_delay_is_zero_for_first_three_failures(failures: int) -> None:
    """R-18: growing delays start after the first few failures."""
    assert delay_after(failures) == timedelta(0)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(4, 1), (5, 2), (6, 4), (7, 8), (10, 64), (13, 512), (14, 900), (50, 900), (99, 900)],
)
def test_delay_doubles_from_one_second_capped_at_15_minutes(failures: int, seconds: int) -> None:
    """R-18: delays grow, doubling from 1 s, capped at 15 min."""
    assert delay_after(failures) == timedelta(seconds=seconds)


def test_delay_is_monotonic() -> None:
    delays = [delay_after(n) for n in range(200)]
    assert delays == sorted(delays)


def test_delay_handles_huge_counts() -> None:
    assert delay_after(10**9) == timedelta(minutes=15)


def test_delay_rejects_negative_failures() -> None:
    with pytest.raises(ValueError):
        delay_after(-1)


def test_check_attempt_allows_first_attempts() -> None:
    for failures in range(4):
        check_attempt(failures, NOW, NOW)
    check_attempt(0, None, NOW)


def test_check_attempt_throttles_while_delay_not_elapsed() -> None:
    """R-18: after repeated failures the next attempt waits."""
    last = NOW - timedelta(seconds=1)
    with pytest.raises(Throttled) as caught:
        check_attempt(6, last, NOW)  # 4 s delay, 1 s elapsed
    assert caught.value.retry_after_seconds == 3
    assert caught.value.details["retry_after_seconds"] == 3
    assert caught.value.details["locked"] is False
    assert caught.value.error_id == "throttled"


def test_check_attempt_rounds_retry_after_up() -> None:
    with pytest.raises(Throttled) as caught:
        check_attempt(6, NOW - timedelta(seconds=3, milliseconds=900), NOW)
    assert caught.value.retry_after_seconds == 1


def test_check_attempt_allows_once_delay_elapsed() -> None:
    check_attempt(6, NOW - timedelta(seconds=4), NOW)
    check_attempt(20, NOW - timedelta(minutes=15), NOW)


def test_check_attempt_future_failure_waits_full_delay() -> None:
    with pytest.raises(Throttled) as caught:
        check_attempt(6, NOW + timedelta(hours=1), NOW)
    assert caught.value.retry_after_seconds == 4


def test_check_attempt_without_last_failure_allows() -> None:
    check_attempt(50, None, NOW)


@pytest.mark.parametrize("failures", [MAX_CONSECUTIVE_FAILURES, MAX_CONSECUTIVE_FAILURES + 5])
def test_check_attempt_locks_method_at_100_failures(failures: int) -> None:
    """R-18: at most 100 consecutive failures per authenticator per account."""
    with pytest.raises(Throttled, match="locked for this subject") as caught:
        check_attempt(failures, NOW - timedelta(days=30), NOW)
    assert caught.value.retry_after_seconds == 900
    assert caught.value.details["locked"] is True


def test_check_attempt_locks_even_without_last_failure() -> None:
    with pytest.raises(Throttled, match="locked"):
        check_attempt(MAX_CONSECUTIVE_FAILURES, None, NOW)


def test_check_attempt_99_failures_not_locked() -> None:
    check_attempt(MAX_CONSECUTIVE_FAILURES - 1, NOW - timedelta(minutes=15), NOW)


def test_max_consecutive_failures_is_100() -> None:
    """R-18: the limit is exactly the standard's maximum."""
    assert MAX_CONSECUTIVE_FAILURES == 100
