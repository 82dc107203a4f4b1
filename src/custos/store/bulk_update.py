"""Many-row UPDATEs by key with the statement compiled once per table, column
sets and database, and the parameter sets handed to the driver's
``executemany`` as they are (``bulk.insert_many``'s counterpart).

``conn.execute(table.update().where(...), rows)`` re-processes every
parameter set in Python; the worker updates a batch's case rows and receipt
rows (hundreds each) per pass. The values still pass through each column
type's bind processor, so what is stored is exactly what that statement
would store. The parameters are bound a column at a time with
``bulk.insert_many``'s column processors (SQLite's timestamps by
``bulk._sqlite_datetimes``: the same text as SQLAlchemy's processor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, literal_column
from sqlalchemy.engine import Dialect

from custos.store.bulk import ColumnProcessor, _processor

#: Prefixes of the bound parameters: a bindparam may not share its name with a
#: column of the SET clause.
_SET, _WHERE = "s_", "w_"

#: Per parameter of the statement, in its order, where its value is in an item
#: of ``rows``: (0, position in ``where``) for the match, (1, column key) for a
#: new value.
Source = tuple[int, str | int]

_compiled: dict[
    tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    tuple[str, bool, list[tuple[Source, ColumnProcessor]]],
] = {}


def _statement(
    dialect: Dialect,
    table: Table,
    keys: tuple[str, ...],
    where: tuple[str, ...],
    plus_one: tuple[str, ...],
) -> tuple[str, bool, list[tuple[Source, ColumnProcessor]]]:
    """The SQL of ``UPDATE table SET key = :s_key, ..., n = n + 1 WHERE w =
    :w_w AND ...``, whether its parameters are positional, and where each
    parameter's value comes from with its column processor (``bulk._processor``:
    the column type's bind processor over a column of values)."""
    cache_key = (dialect.name, table.name, keys, where, plus_one)
    if cache_key not in _compiled:
        values: dict[str, Any] = {k: bindparam(_SET + k, type_=table.c[k].type) for k in keys}
        values.update({n: table.c[n] + literal_column("1") for n in plus_one})
        statement = (
            table.update()
            .where(
                and_(*(table.c[w] == bindparam(_WHERE + w, type_=table.c[w].type) for w in where))
            )
            .values(values)
        )
        compiled = statement.compile(dialect=dialect)
        sources: dict[str, tuple[Source, str]] = {_SET + k: ((1, k), k) for k in keys}
        sources.update({_WHERE + w: ((0, i), w) for i, w in enumerate(where)})
        order = tuple(compiled.positiontup or ()) if compiled.positional else tuple(sources)
        if sorted(order) != sorted(sources):
            raise ValueError(f"update_many: unexpected parameters {sorted(order)}")
        plan: list[tuple[Source, ColumnProcessor]] = [
            (
                sources[name][0],
                _processor(table.c[sources[name][1]].type.dialect_impl(dialect), dialect),
            )
            for name in order
        ]
        _compiled[cache_key] = (compiled.string, compiled.positional, plan)
    return _compiled[cache_key]


def update_many(
    conn: Connection,
    table: Table,
    rows: Sequence[tuple[Sequence[Any], dict[str, Any]]],
    *,
    where: Sequence[str],
    plus_one: Sequence[str] = (),
) -> int:
    """Update the rows of ``table`` in one ``executemany``: each item of
    ``rows`` is (the values of the ``where`` columns that pick the row, the new
    values of the columns to set); every item sets the same columns. The
    ``plus_one`` columns are incremented on every row updated. Returns how many
    rows were updated as the driver counts them (-1: it cannot tell)."""
    if not rows:
        return 0
    if len(set(where)) != len(where) or not where:
        raise ValueError("update_many: where names each column once")
    keys = tuple(rows[0][1])
    sql, positional, plan = _statement(conn.dialect, table, keys, tuple(where), tuple(plus_one))
    names = [_SET + str(key) if part else _WHERE + where[int(key)] for (part, key), _ in plan]
    first = rows[0][1].keys()
    for item in rows:
        if len(item[0]) != len(where) or item[1].keys() != first:
            raise ValueError("update_many: every row sets the same columns, matched alike")
    columns: list[list[Any]] = []
    for (part, key), process in plan:
        if part:
            column = str(key)
            values = [item[1][column] for item in rows]
        else:
            position = int(key)
            values = [item[0][position] for item in rows]
        columns.append(values if process is None else list(process(values)))
    params: list[Any] = list(zip(*columns, strict=True))
    if not positional:
        params = [dict(zip(names, values, strict=True)) for values in params]
    return int(conn.exec_driver_sql(sql, params).rowcount)
