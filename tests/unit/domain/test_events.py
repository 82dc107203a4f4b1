"""The one spelling of an event time, whatever the machine's time zone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from custos.domain.events import utc


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_utc_spells_the_instant_in_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """R-38: hashed event times must not depend on the machine's zone."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        at = datetime(2026, 1, 2, 11, 4, 5, 600, tzinfo=timezone(timedelta(hours=2)))
        assert utc(at) == "2026-01-02T09:04:05.000600Z"
        assert utc(datetime(2026, 1, 2, 9, 4, 5, tzinfo=UTC)) == "2026-01-02T09:04:05.000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
