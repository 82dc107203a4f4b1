"""``DomainEvent.canonical`` spells its time as ``utc`` does (the ledger hashes
it, R-38), also when consecutive events share one time object, whose spelling
it reuses: a time that could spell differently on a second call (a timezone
whose offset changes, a datetime subclass) is spelled afresh each time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

from custos.domain import events
from custos.domain.events import DomainEvent, EventType, utc


class Drifting(tzinfo):
    """An offset that moves by an hour on every call."""

    def __init__(self) -> None:
        self.calls = 0

    def utcoffset(self, dt: datetime | None) -> timedelta:
        self.calls += 1
        return timedelta(hours=self.calls % 12)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "drifting"


class Shifted(datetime):
    """A datetime subclass that converts to a time an hour later each call."""

    calls = 0

    def astimezone(self, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        Shifted.calls += 1
        return datetime(2026, 1, 1, Shifted.calls % 24, tzinfo=UTC)


def _time(at: datetime) -> object:
    return DomainEvent(EventType.CASE_OPENED, at, "a", None, None).canonical()["time"]


def test_the_same_fixed_offset_time_twice_is_spelled_as_utc_spells_it() -> None:
    at = datetime(2026, 12, 6, 23, 57, 40, tzinfo=timezone(timedelta(hours=2)))
    assert _time(at) == _time(at) == utc(at) == "2026-12-06T21:57:40.000000Z"
    assert events._last_time == (at, "2026-12-06T21:57:40.000000Z")
    other = datetime(2026, 12, 6, 23, 57, 40, 5, tzinfo=UTC)
    assert _time(other) == "2026-12-06T23:57:40.000005Z"
    assert _time(at) == "2026-12-06T21:57:40.000000Z"


def test_a_time_that_may_spell_differently_is_spelled_afresh() -> None:
    drifting = datetime(2026, 1, 1, 12, tzinfo=Drifting())
    first, second = _time(drifting), _time(drifting)
    assert first != second
    assert events._last_time[0] is not drifting
    shifted = Shifted(2026, 1, 1, tzinfo=UTC)
    assert _time(shifted) != _time(shifted)
    naive = datetime(2026, 1, 1, 12)  # local time: the process's zone may change
    assert _time(naive) == utc(naive)
    assert events._last_time[0] is not naive


def test_the_spelling_of_the_same_object_is_reused_not_made_again() -> None:
    at = datetime(2026, 12, 6, 23, 57, 40, 1, tzinfo=UTC)
    assert _time(at) == "2026-12-06T23:57:40.000001Z"
    events._last_time = (at, "reused")
    assert _time(at) == "reused"
    events._last_time = (None, "")
