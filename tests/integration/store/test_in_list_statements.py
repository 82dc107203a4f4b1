"""``bulk.ByIds`` (the worker's batch reads and writes by id: cases, receipts,
subjects, contacts, holds, tokens, secrets) on SQLite and PostgreSQL: the ids
bound as one parameter (a JSON array read by ``json_each`` on SQLite, an array
on PostgreSQL) select, and write, exactly the rows ``column.in_(ids)`` does,
for any number of ids (beyond one 500-id chunk too), ids holding quotes,
backslashes, control and non-ASCII characters, integer ids, with the
statement's other parameters given at execution."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select

from conftest import World
from custos.store.bulk import CHUNK, ByIds

#: Lengths of the lists asked for: up to more than two chunks.
LENGTHS = [0, 1, 2, 3, 255, 256, 257, 499, 500, 501, 2 * CHUNK + 37]

#: Names no JSON text may mangle.
ODD = ["quote\" ' name", "back\\slash\\u0041", "tab\tnew\nline\x01", "é ✓ 𝄞 日本", " ", ""]


@pytest.fixture
def probe(world: World) -> Iterator[Table]:
    """A table of its own, with 1,200 rows: ``id`` and a ``kind`` of three."""
    table = Table(
        f"in_list_probe_{secrets.token_hex(3)}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(40), nullable=False),
        Column("kind", String(10), nullable=False),
    )
    with world.svc.engine.begin() as conn:
        table.create(conn)
        conn.execute(
            table.insert(),
            [{"id": n, "name": f"name-{n:05d}", "kind": f"k{n % 3}"} for n in range(1200)]
            + [{"id": 2000 + n, "name": name, "kind": "odd"} for n, name in enumerate(ODD)],
        )
    yield table
    with world.svc.engine.begin() as conn:
        table.drop(conn)


def _asked(length: int) -> list[str]:
    """``length`` names, some unknown, some repeated, out of order."""
    names = [f"name-{(n * 7919) % 1500:05d}" for n in range(length)]
    return names + names[: length // 5]


def test_by_ids_selects_what_in_selects_for_every_length(world: World, probe: Table) -> None:
    by_name = ByIds(
        probe.c.name,
        lambda in_: (
            select(probe.c.id, probe.c.name)
            .where(in_, probe.c.kind != bindparam("skip", type_=probe.c.kind.type))
            .order_by(probe.c.id)
        ),
    )
    with world.svc.engine.connect() as conn:
        for length in LENGTHS:
            asked = _asked(length)
            expected = conn.execute(
                select(probe.c.id, probe.c.name)
                .where(probe.c.name.in_(asked), probe.c.kind != "k1")
                .order_by(probe.c.id)
            ).all()
            results = list(by_name.execute(conn, asked, {"skip": "k1"}))
            found = sorted(row for result in results for row in result.all())
            assert found == sorted(expected), length
            assert len(results) == -(-len(set(asked)) // CHUNK)  # one statement a chunk
            assert len(found) == len({row.id for row in found})  # no row twice


def test_by_ids_matches_odd_text_exactly(world: World, probe: Table) -> None:
    by_name = ByIds(probe.c.name, lambda in_: select(probe.c.id).where(in_))
    asked = [*ODD, "quote", "back\\slash\\u0041 ", "É ✓ 𝄞 日本", "name-00001"]
    with world.svc.engine.connect() as conn:
        found = sorted(i for result in by_name.execute(conn, asked) for i in result.scalars())
        expected = sorted(conn.execute(select(probe.c.id).where(probe.c.name.in_(asked))).scalars())
    assert found == expected == [1, *range(2000, 2000 + len(ODD))]


def test_by_ids_writes_exactly_the_rows_in_names(world: World, probe: Table) -> None:
    rename = ByIds(
        probe.c.id,
        lambda in_: (
            probe.update().where(in_).values(kind=bindparam("b_kind", type_=probe.c.kind.type))
        ),
    )
    asked = [3, 3, 1199, 500, 1500, 17, 256, 257, *range(600, 1100)]
    with world.svc.engine.begin() as conn:
        counts = [r.rowcount for r in rename.execute(conn, asked, {"b_kind": "moved"})]
    assert sum(counts) == len({i for i in asked if i < 1200})  # a repeated id counts once
    with world.svc.engine.connect() as conn:
        moved = set(conn.execute(select(probe.c.id).where(probe.c.kind == "moved")).scalars())
    assert moved == {i for i in asked if i < 1200}


def test_by_ids_builds_one_statement_per_database(world: World, probe: Table) -> None:
    """One statement (one compiled form, one SQL text) whatever the number of ids."""
    by_id = ByIds(probe.c.id, lambda in_: select(probe.c.id).where(in_))
    with world.svc.engine.connect() as conn:
        for length in (3, 4, 129, 200, 256, 257, 499):
            assert sorted(next(by_id.execute(conn, range(length))).scalars()) == list(range(length))
        dialect = conn.dialect.name
    assert set(by_id._built) == {dialect}
    assert by_id.statement(dialect) is by_id.statement(dialect)
