"""The days a compliance report covers, from what a person typed: both faces
(``custos report compliance --from/--to``, the console's report form) read
dates here, so the default period is one rule (docs/reports.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from custos.domain.errors import InvalidInput

#: Without a first day, a report covers this many days up to the last one.
DEFAULT_DAYS = 30


def _day(value: str, name: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-11-30, not '{value}'") from None


def period_days(
    from_: str | None,
    to: str | None,
    today: date,
    *,
    names: tuple[str, str] = ("--from", "--to"),
) -> tuple[date, date]:
    """The first and last day (inclusive) of a report: ``to`` defaults to
    ``today``, ``from_`` to the last of the :data:`DEFAULT_DAYS` days ending on
    ``to``. ``names`` are what the face calls the two fields, for the messages.
    Raises InvalidInput."""
    first_name, last_name = names
    last = _day(to, last_name) if to is not None else today
    first = _day(from_, first_name) if from_ is not None else last - timedelta(DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidInput(f"{last_name} is before {first_name}")
    return first, last
