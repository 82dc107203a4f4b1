"""Many-row INSERTs with the statement compiled once per table, column set and
database, and the rows handed to the driver's ``executemany`` as they are.

SQLAlchemy's own executemany re-processes every parameter set in Python (about
30 µs a row); the ledger writes several rows per recovery, so the worker's
batches pay that thousands of times. The values still pass through each
column type's bind processor, so what is stored is exactly what
``conn.execute(table.insert(), rows)`` would store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None

#: Ids per ``IN (...)`` list: short enough for any database's limit on bound
#: parameters.
CHUNK = 500


Id = TypeVar("Id", str, int)


def chunks(ids: Iterable[Id], size: int = CHUNK) -> Iterator[list[Id]]:
    """The distinct ``ids``, sorted, in slices of at most ``size``."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


_compiled: dict[
    tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...], bool, list[Processor]]
] = {}


def _statement(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], bool, list[Processor]]:
    cache_key = (dialect.name, table.name, keys)
    if cache_key not in _compiled:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ()) if compiled.positional else keys
        processors: list[Processor] = [
            table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in order
        ]
        _compiled[cache_key] = (compiled.string, order, compiled.positional, processors)
    return _compiled[cache_key]


def _same(value: Any) -> Any:
    return value


def _defaults(table: Table, row: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Python-side defaults (scalars and callables) of the columns ``row`` leaves
    out, as ``conn.execute(table.insert(), rows)`` would fill them."""
    found: dict[str, Callable[[], Any]] = {}
    for column in table.columns:
        default = column.default
        if column.key in row or default is None:
            continue
        arg: Any = getattr(default, "arg", None)
        if default.is_scalar:
            found[column.key] = partial(_same, arg)
        elif default.is_callable:
            found[column.key] = partial(arg, None)  # SQLAlchemy wraps it to take a context
    return found


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, in the order given) into
    ``table`` in one ``executemany``; columns the rows leave out get their
    Python-side defaults, server-side ones are the database's."""
    if not rows:
        return
    missing = _defaults(table, rows[0])
    if missing:
        rows = [{**{k: make() for k, make in missing.items()}, **row} for row in rows]
    sql, order, positional, processors = _statement(conn.dialect, table, tuple(rows[0]))
    pairs = list(zip(order, processors, strict=True))
    if positional:
        params: list[Any] = [
            tuple(row[key] if p is None else p(row[key]) for key, p in pairs) for row in rows
        ]
    else:
        params = [{key: row[key] if p is None else p(row[key]) for key, p in pairs} for row in rows]
    conn.exec_driver_sql(sql, params)
