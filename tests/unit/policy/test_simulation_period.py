"""The period ``custos policy simulate --since/--until`` (and the console's form)
replays: durations back from now, whole days, times; one rule for both faces."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from custos.domain.errors import InvalidInput
from custos.policy.simulation_period import simulation_period

NOW = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)


def test_without_bounds_the_last_30_days_up_to_now() -> None:
    assert simulation_period(None, None, NOW) == (NOW - timedelta(days=30), NOW)
    assert simulation_period("", "  ", NOW) == (NOW - timedelta(days=30), NOW)


@pytest.mark.parametrize(
    ("since", "back"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("1d12h", timedelta(hours=36))],
)
def test_a_duration_reaches_back_from_now(since: str, back: timedelta) -> None:
    assert simulation_period(since, None, NOW) == (NOW - back, NOW)


def test_a_day_starts_the_period_and_ends_it_included() -> None:
    start, end = simulation_period("2026-11-01", "2026-11-30", NOW)
    assert start == datetime(2026, 11, 1, tzinfo=UTC)
    assert end == datetime(2026, 12, 1, tzinfo=UTC)


def test_a_time_with_or_without_a_zone_is_read_in_utc() -> None:
    start, end = simulation_period("2026-11-01T08:00+01:00", "2026-11-02T08:00", NOW)
    assert start == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert simulation_period("2026-11-01T08:00Z", None, NOW)[0] == datetime(
        2026, 11, 1, 8, tzinfo=UTC
    )


def test_until_may_be_a_duration_too() -> None:
    assert simulation_period("30d", "7d", NOW) == (
        NOW - timedelta(days=30),
        NOW - timedelta(days=7),
    )


@pytest.mark.parametrize(
    "since",
    ["30", "thirty days", "0d", "-3d", "2026-13-01", "2026-11-31", "9999999d", "999999d", "x" * 50],
)
def test_anything_else_is_refused_naming_the_field(since: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        simulation_period(since, None, NOW)
    assert caught.value.message.startswith("--since is a duration back from now")
    assert caught.value.error_id == "invalid_input"


def test_the_end_must_come_after_the_start_in_the_faces_words() -> None:
    with pytest.raises(InvalidInput, match="Until must be after Since"):
        simulation_period("2026-11-10", "2026-11-01", NOW, names=("Since", "Until"))
    with pytest.raises(InvalidInput, match="--until must be after --since"):
        simulation_period("7d", "30d", NOW)


WRONG = (
    "is a duration back from now such as 30d or 12h, a day such as 2026-11-01, or a "
    "time such as 2026-11-01T08:00Z; not "
)


def test_a_wrong_bound_is_quoted_at_most_40_characters_long() -> None:
    with pytest.raises(InvalidInput) as caught:
        simulation_period("thirty days", None, NOW)
    assert caught.value.message == f"--since {WRONG}'thirty days'"
    with pytest.raises(InvalidInput) as caught:
        simulation_period("30d", "y" * 45, NOW)
    assert caught.value.message == f"--until {WRONG}'{'y' * 40}'"
    with pytest.raises(InvalidInput) as caught:
        simulation_period("30d", "never", NOW, names=("Since", "Until"))
    assert caught.value.message == f"Until {WRONG}'never'"


def test_a_bound_of_spaces_only_is_absent_for_either_field() -> None:
    """A form sends an emptied field as spaces: the default, for Since as for Until."""
    assert simulation_period("   ", "  ", NOW) == (NOW - timedelta(days=30), NOW)
    assert simulation_period(" \t", None, NOW, names=("Since", "Until"))[0] == (
        NOW - timedelta(days=30)
    )


def test_a_bound_may_be_40_characters_long_not_41() -> None:
    forty = "1d" * 20  # a compound duration: 20 days
    assert simulation_period(forty, None, NOW)[0] == NOW - timedelta(days=20)
    forty_one = "10d" + "1d" * 19  # 29 days, but one character too long
    with pytest.raises(InvalidInput) as caught:
        simulation_period(forty_one, None, NOW)
    assert caught.value.message == f"--since {WRONG}'{forty_one[:40]}'"


def test_an_end_equal_to_the_start_is_refused() -> None:
    # Until a day includes it: 2026-10-31 ends where 2026-11-01 starts.
    with pytest.raises(InvalidInput, match="--until must be after --since"):
        simulation_period("2026-11-01", "2026-10-31", NOW)
    assert simulation_period("2026-11-01", "2026-11-01", NOW) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, tzinfo=UTC),
    )


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process runs in a zone nine hours ahead of UTC."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo")
def test_times_are_read_and_returned_in_utc_whatever_the_machines_zone() -> None:
    start, end = simulation_period("2026-11-01T08:00", "2026-11-02T08:00+01:00", NOW)
    assert start.isoformat() == "2026-11-01T08:00:00+00:00"
    assert end.isoformat() == "2026-11-02T07:00:00+00:00"
    assert start.tzinfo is UTC and end.tzinfo is UTC
