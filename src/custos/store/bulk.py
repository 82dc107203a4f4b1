"""Many-row INSERTs with the statement compiled once per table, column set and
database, and the rows handed to the driver's ``executemany`` as they are.

SQLAlchemy's own executemany re-processes every parameter set in Python (about
30 µs a row); the ledger writes several rows per recovery, so the worker's
batches pay that thousands of times. The values still pass through each
column type's bind processor, so what is stored is exactly what
``conn.execute(table.insert(), rows)`` would store. The parameters are built a
column at a time (``map`` over the rows, in C), and SQLite's timestamp processor
is replaced by :func:`_sqlite_datetime`, which returns the same text."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from functools import partial
from operator import itemgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    String,
    Table,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

#: Binds a column: the values of every row in, what the driver gets out.
ColumnProcessor = Callable[[Iterable[Any]], Iterable[Any]] | None

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
    tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...], bool, list[ColumnProcessor]]
] = {}


def _statement(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], bool, list[ColumnProcessor]]:
    cache_key = (dialect.name, table.name, keys)
    if cache_key not in _compiled:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ()) if compiled.positional else keys
        processors: list[ColumnProcessor] = [
            _processor(table.c[key].type.dialect_impl(dialect), dialect) for key in order
        ]
        _compiled[cache_key] = (compiled.string, order, compiled.positional, processors)
    return _compiled[cache_key]


#: The text SQLAlchemy's SQLite ``DATETIME`` stores by default (its bind processor
#: fills it from a dict per value, about 1 µs).
_SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def _processor(impl: TypeEngine[Any], dialect: Dialect) -> ColumnProcessor:
    """How a column of ``impl`` values is bound on ``dialect``: ``None`` when the
    type has no bind processor, else its processor mapped over the column; for
    SQLite's ``DATETIME`` in its default storage format, :func:`_sqlite_datetimes`."""
    process = impl.bind_processor(dialect)
    if process is None:
        return None
    if type(impl) is SQLITE_DATETIME and (
        getattr(impl, "_storage_format", None) == _SQLITE_DATETIME_FORMAT
    ):
        return partial(_sqlite_datetimes, process)
    return partial(map, process)


def _sqlite_datetimes(process: Callable[[Any], Any], values: Iterable[Any]) -> list[Any]:
    """What ``process`` (SQLite's ``DATETIME`` processor) returns for each of
    ``values``: ``YYYY-MM-DD HH:MM:SS.ffffff``, the wall-clock fields as they
    are (an offset is dropped, not applied).

    A batch's rows mostly share one ``datetime`` object (the time of the
    batch), so the text of the previous value is reused for the same object (an
    exact ``datetime`` is immutable and the processor reads only its fields).
    Otherwise ``datetime.isoformat`` writes exactly those 26 characters (the
    year padded to four digits, always six of microseconds) and then the
    offset, if any; it asks the timezone for the offset, so only a naive value
    or a fixed offset (``datetime.timezone``, whose answer is a plain
    ``timedelta``) takes that path. Anything else (a subclass, a date, ``None``,
    another tzinfo) goes to ``process``."""
    texts: list[Any] = []
    last: object = texts  # no value is this list
    text: Any = None
    for value in values:
        if value is not last:
            if type(value) is datetime and (value.tzinfo is None or type(value.tzinfo) is timezone):
                text = value.isoformat(" ", "microseconds")[:26]
                last = value
            else:
                text = process(value)
                last = texts
        texts.append(text)
    return texts


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
    columns: list[list[Any]] = []
    for key, process in zip(order, processors, strict=True):
        values = map(itemgetter(key), rows)
        columns.append(list(values if process is None else process(values)))
    params: list[Any] = list(zip(*columns, strict=True))
    if not positional:
        params = [dict(zip(order, values, strict=True)) for values in params]
    conn.exec_driver_sql(sql, params)


Statement = TypeVar("Statement", bound="Executable")

#: The one parameter of a :class:`ByIds` statement: the chunk of ids.
_IDS = "in_ids"


class ByIds(Generic[Statement]):
    """A statement with one ``column IN (...)`` over a list of ids, built and
    compiled once per database, and executed a chunk of at most :data:`CHUNK`
    ids at a time with the whole chunk as ONE bound parameter: on SQLite a
    JSON array (``column IN (SELECT value FROM json_each(:ids))``), on
    PostgreSQL an array (``column = ANY(:ids)``); elsewhere an expanding
    ``IN``.

    ``column.in_(ids)`` built per call coerces every id in Python, and its
    expanding parameter is rewritten into the SQL at every execution (about
    1 ms for a few hundred ids); here the SQL is the same text at every
    execution, whatever the number of ids. Each form matches, locks or
    updates exactly the rows ``column.in_(chunk)`` does (the values compare
    with the column's own type: text with text, integers with integers).
    ``build`` makes the statement from that clause; its other parameters are
    bound parameters, given at execution."""

    def __init__(
        self, column: ColumnElement[Any], build: Callable[[ColumnElement[bool]], Statement]
    ) -> None:
        self._column = column
        self._build = build
        self._built: dict[str, Statement] = {}

    def statement(self, dialect: str) -> Statement:
        """The statement for the database ``dialect`` (its SQLAlchemy name)."""
        built = self._built.get(dialect)
        if built is None:
            column = self._column
            clause: ColumnElement[bool]
            if dialect == "sqlite":
                ids = func.json_each(bindparam(_IDS, type_=String())).table_valued("value")
                clause = column.in_(select(ids.c.value))
            elif dialect == "postgresql":
                clause = column == any_(bindparam(_IDS, type_=postgresql.ARRAY(column.type)))
            else:
                clause = column.in_(bindparam(_IDS, expanding=True))
            built = self._built[dialect] = self._build(clause)
        return built

    def then(self, more: Callable[[Statement], Statement]) -> ByIds[Statement]:
        """The same statement with ``more`` applied to it (``with_for_update``)."""
        build = self._build
        return ByIds(self._column, lambda clause: more(build(clause)))

    def run(
        self, conn: Connection, ids: Iterable[Any], params: dict[str, Any] | None = None
    ) -> int:
        """:meth:`execute` for a statement whose rows nobody reads (an UPDATE);
        returns the rows it matched, in all."""
        return sum(int(result.rowcount) for result in self.execute(conn, ids, params))

    def execute(
        self, conn: Connection, ids: Iterable[Any], params: dict[str, Any] | None = None
    ) -> Iterator[CursorResult[Any]]:
        """Execute the statement for each chunk of the distinct ``ids`` (sorted, as
        :func:`chunks`), with ``params`` for its other parameters; yields each
        chunk's result, in chunk order (so rows locked in id order stay so)."""
        dialect = conn.dialect.name
        statement = self.statement(dialect)
        for chunk in chunks(ids):
            values = dict(params or {})
            values[_IDS] = json.dumps(chunk, ensure_ascii=False) if dialect == "sqlite" else chunk
            yield conn.execute(statement, values)
