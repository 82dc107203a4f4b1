"""The times a person may name (a hold's end, an exception's window): with
their time zone, and between 1970 and 9000 in UTC, far enough from the ends of
``datetime`` that converting one to UTC, comparing it or adding days to it
cannot overflow (``9999-12-31T23:59-14:00`` lies past what a datetime holds in
UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from custos.domain.errors import InvalidInput

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
RANGE = "between 1970-01-01 and 9000-01-01 (UTC)"


def within_range(value: datetime) -> datetime | None:
    """``value`` in UTC when it is timezone-aware and within the range, else None."""
    if value.tzinfo is None:
        return None
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return None
    return utc if EARLIEST <= utc < LATEST else None


def named_time(value: datetime, *, what: str) -> datetime:
    """``value`` in UTC. Raises InvalidInput for a time without its zone or
    outside the range, naming ``what``."""
    if value.tzinfo is None:
        raise InvalidInput(f"give {what} with its time zone (e.g. 2026-12-31T18:00Z)")
    utc = within_range(value)
    if utc is None:
        raise InvalidInput(f"{what} must lie {RANGE}")
    return utc
