"""``custos report compliance`` without dates covers the last 30 days, today
included (docs/reports.md); the rule lives in ``custos.reports.periods``."""

from __future__ import annotations

from datetime import date

import pytest

from custos.domain.errors import InvalidInput
from custos.reports.periods import DEFAULT_DAYS, period_days

TODAY = date(2026, 12, 6)


def test_period_without_dates_is_the_last_30_days_up_to_today() -> None:
    assert DEFAULT_DAYS == 30
    assert period_days(None, None, TODAY) == (date(2026, 11, 7), TODAY)


def test_period_with_only_to_is_the_30_days_ending_there() -> None:
    assert period_days(None, "2026-11-30", TODAY) == (date(2026, 11, 1), date(2026, 11, 30))


def test_period_with_only_from_runs_to_today() -> None:
    assert period_days("2026-11-01", None, TODAY) == (date(2026, 11, 1), TODAY)


def test_period_with_both_dates_keeps_them() -> None:
    assert period_days("2026-10-01", "2026-10-31", TODAY) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
    )


@pytest.mark.parametrize(
    ("first", "last"), [("2026-11-30", "2026-11-01"), ("tomorrow", None), (None, "30.11.2026")]
)
def test_period_bad_or_reversed_dates_refused_as_invalid_input(
    first: str | None, last: str | None
) -> None:
    with pytest.raises(InvalidInput):
        period_days(first, last, TODAY)
