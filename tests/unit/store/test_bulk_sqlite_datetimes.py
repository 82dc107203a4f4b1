"""``insert_many`` binds SQLite timestamps with its own column processor
(``_sqlite_datetimes``): it must hand the driver exactly the text SQLAlchemy's
SQLite ``DATETIME`` processor makes of every value (R-38: the ledger's times
read back as they were written), and raise what it raises."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from custos.store import bulk

DIALECT = sqlite.dialect(dbapi=sqlite3)
REFERENCE = DateTime(timezone=True).dialect_impl(DIALECT).bind_processor(DIALECT)


class Later(datetime):
    """A subclass that moves its year: only the processor knows what it makes of it."""

    @property
    def year(self) -> int:
        return 1999


class Odd(tzinfo):
    """A timezone whose offset cannot be asked: the stored text never asks it."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset")

    def dst(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no dst")

    def tzname(self, dt: datetime | None) -> str:
        raise RuntimeError("no name")


def _values() -> list[Any]:
    now = datetime(2026, 12, 6, 23, 57, 40, 576923, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2, minutes=30))
    values: list[Any] = [
        now,
        now,  # the same object again: reused
        now.replace(microsecond=0),
        now.replace(tzinfo=None),
        now.astimezone(plus_two),
        now.astimezone(ZoneInfo("America/New_York")),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 2, 3, 4, 5, 6, 7),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-14))),
        datetime(2026, 3, 29, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
        now.replace(tzinfo=Odd()),
        Later(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        date(2026, 5, 17),
        None,
        now,
    ]
    return values


def test_every_value_binds_to_the_text_sqlalchemy_stores() -> None:
    processor = bulk._processor(DateTime(timezone=True).dialect_impl(DIALECT), DIALECT)
    assert processor is not None and REFERENCE is not None
    values = _values()
    assert list(processor(iter(values))) == [REFERENCE(v) for v in values]
    for value in values:  # one at a time too: no value leans on the one before
        assert list(processor([value])) == [REFERENCE(value)]
    assert list(processor([])) == []


def test_a_value_sqlite_cannot_store_raises_what_the_processor_raises() -> None:
    processor = bulk._processor(DateTime(timezone=True).dialect_impl(DIALECT), DIALECT)
    assert processor is not None and REFERENCE is not None
    with pytest.raises(TypeError, match="only accepts Python datetime and date"):
        REFERENCE("2026-01-01")
    with pytest.raises(TypeError, match="only accepts Python datetime and date"):
        list(processor([datetime(2026, 1, 1, tzinfo=UTC), "2026-01-01"]))


def test_another_storage_format_keeps_the_types_own_processor() -> None:
    """Only the default format is known to be what isoformat writes."""
    impl = sqlite.DATETIME(storage_format="%(year)04d/%(month)02d/%(day)02d")  # type: ignore[no-untyped-call]
    processor = bulk._processor(impl, DIALECT)
    assert processor is not None
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert list(processor([at])) == ["2026/01/02"]
