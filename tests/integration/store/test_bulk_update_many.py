"""``bulk_update.update_many`` (the worker's case and receipt rows, R-38: the
stored values are what the ledger's facts are read against) on SQLite and
PostgreSQL: it updates exactly the rows given, leaves every other row alone,
counts only the rows its match found, and stores exactly what SQLAlchemy's own
executemany UPDATE stores, down to the text of timestamps and JSON."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Text, bindparam, cast, select

from conftest import World
from custos.store.bulk_update import update_many
from custos.store.tables import subjects


def _subjects(world: World, count: int) -> list[str]:
    """``count`` plain subject rows, inserted directly."""
    tag = secrets.token_hex(3)
    ids = [f"bulk-update-{tag}-{n}" for n in range(count)]
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with world.svc.uow() as uow:
        uow.conn.execute(
            subjects.insert(),
            [
                {
                    "id": subject_id,
                    "display_name": f"before {n}",
                    "kind": "human",
                    "employment": "employee",
                    "groups": ["g-before"],
                    "holds": [],
                    "created_at": at,
                    "ial": 1,
                    "contract_end": None,
                }
                for n, subject_id in enumerate(ids)
            ],
        )
        uow.commit()
    return ids


def _raw(world: World, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows as the database holds them: timestamps and JSON as text."""
    columns = [
        cast(c, Text).label(c.key)
        if c.key in ("contract_end", "created_at", "groups", "owners")
        else c
        for c in subjects.columns
    ]
    with world.svc.uow(read_only=True) as uow:
        rows = uow.conn.execute(select(*columns).where(subjects.c.id.in_(ids)))
        return {r.id: dict(r._mapping) for r in rows}


def _values(n: int) -> dict[str, Any]:
    """Awkward new values: microseconds, an offset other than UTC, non-ASCII
    text and JSON, a NULL."""
    plus_two = timezone(timedelta(hours=2))
    return {
        "display_name": f"après ✓ {n}",
        "groups": ["g-é", f"g-{n}", 'g-\\u0000 "q"'],
        "owners": None,
        "privileged": True,
        "contract_end": datetime(2026, 7, 1, 12, 30, 15, 250001 + n, tzinfo=plus_two),
    }


def test_update_many_stores_what_an_executemany_update_stores(world: World) -> None:
    plain_a, plain_b, bulk_a, bulk_b, untouched = _subjects(world, 5)
    before = _raw(world, [untouched])
    with world.svc.uow() as uow:
        uow.conn.execute(
            subjects.update().where(subjects.c.id == bindparam("_id")),
            [{"_id": plain_a, **_values(0)}, {"_id": plain_b, **_values(1)}],
        )
        count = update_many(
            uow.conn,
            subjects,
            [((bulk_a,), _values(0)), ((bulk_b,), _values(1))],
            where=("id",),
        )
        assert update_many(uow.conn, subjects, [], where=("id",)) == 0  # no statement
        uow.commit()
    assert count == 2
    stored = _raw(world, [plain_a, plain_b, bulk_a, bulk_b, untouched])
    for plain, bulk in ((plain_a, bulk_a), (plain_b, bulk_b)):
        assert {**stored[plain], "id": None} == {**stored[bulk], "id": None}
    assert stored[untouched] == before[untouched]
    with world.svc.uow(read_only=True) as uow:
        by_sqlalchemy, by_bulk = uow.subjects.get(plain_b), uow.subjects.get(bulk_b)
    assert by_sqlalchemy is not None and by_bulk is not None
    assert by_bulk.contract_end == by_sqlalchemy.contract_end  # as each database keeps offsets
    assert by_bulk.groups == frozenset(_values(1)["groups"])


def test_update_many_updates_only_the_rows_its_match_finds(world: World) -> None:
    """A match on two columns (as the worker's: id and version, id and lease
    owner): a row whose second column moved on is left alone and not counted;
    ``plus_one`` columns move only on the rows updated."""
    hit, missed, other = _subjects(world, 3)
    before = _raw(world, [hit, missed, other])
    with world.svc.uow() as uow:
        count = update_many(
            uow.conn,
            subjects,
            [
                ((hit, "before 0"), {"display_name": "hit"}),
                ((missed, "not what it holds"), {"display_name": "missed"}),
            ],
            where=("id", "display_name"),
            plus_one=("ial",),
        )
        uow.commit()
    assert count == 1
    after = _raw(world, [hit, missed, other])
    assert after[hit] == {**before[hit], "display_name": "hit", "ial": 2}
    assert after[missed] == before[missed]
    assert after[other] == before[other]


def test_update_many_refuses_rows_that_set_different_columns(world: World) -> None:
    first, second = _subjects(world, 2)
    before = _raw(world, [first, second])
    with world.svc.uow() as uow, pytest.raises(ValueError):
        update_many(
            uow.conn,
            subjects,
            [((first,), {"display_name": "a"}), ((second,), {"ial": 3})],
            where=("id",),
        )
    assert _raw(world, [first, second]) == before


def test_update_many_binds_every_kind_of_time_as_an_executemany_update(world: World) -> None:
    """Times bound a column at a time (SQLite: ``bulk._sqlite_datetimes``, the
    text SQLAlchemy's processor makes, R-38): the same object in several rows,
    naive, fixed offsets, a zone with DST, the extremes of the year range,
    NULL; each row stores what SQLAlchemy's own executemany UPDATE stores."""
    now = datetime(2026, 12, 6, 23, 57, 40, 576923, tzinfo=UTC)
    times = [
        now,
        now,
        now.replace(microsecond=0),
        now.replace(tzinfo=None),
        now.astimezone(timezone(timedelta(hours=2, minutes=30))),
        now.astimezone(ZoneInfo("America/New_York")),
        datetime(2026, 3, 29, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-14))),
        None,
        now,
    ]
    ids = _subjects(world, 2 * len(times))
    plain, bulk = ids[: len(times)], ids[len(times) :]
    with world.svc.uow() as uow:
        uow.conn.execute(
            subjects.update().where(subjects.c.id == bindparam("_id")),
            [{"_id": i, "contract_end": t} for i, t in zip(plain, times, strict=True)],
        )
        count = update_many(
            uow.conn,
            subjects,
            [((i,), {"contract_end": t}) for i, t in zip(bulk, times, strict=True)],
            where=("id",),
        )
        uow.commit()
    assert count == len(times)
    stored = _raw(world, ids)
    for one, many in zip(plain, bulk, strict=True):
        assert stored[one]["contract_end"] == stored[many]["contract_end"]
        assert {**stored[one], "id": None, "display_name": None} == {
            **stored[many],
            "id": None,
            "display_name": None,
        }
