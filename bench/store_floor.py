"""The store's share of a benchmark: the SQL a phase ran, replayed raw.

:class:`Recorder` listens on an engine (SQLite only) and keeps, in the order
they completed, every statement the measured threads ran (text and the exact
parameters the driver got, ``executemany`` kept as one call), each
connection's ``COMMIT`` and ``ROLLBACK``, and which connection ran what.
:func:`replay` runs that same list with the bare ``sqlite3`` module against a
copy of the database taken before the phase (:func:`snapshot`), one ``sqlite3``
connection per connection of the phase, reading every row a statement returns,
and returns the CPU time it took: what SQLite itself costs for that work, with
no SQLAlchemy and no Custos code around it. The phase's own CPU minus this is
what the Python around the store costs.

Statements are recorded once they completed, and a transaction's end before
the next one's start on another connection, so the order replays without
waiting on SQLite's write lock; a replay that would wait fails at once
(``busy_timeout`` 0) rather than measure a wait.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

#: (connection key, statement or None for COMMIT/ROLLBACK, parameters, many, end)
Step = tuple[int, str | None, Any, bool, str]


class Recorder:
    """What the engine's connections ran from the threads ``measured`` admits."""

    def __init__(self, engine: Engine, measured: Callable[[], bool]) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("the store floor is measured on SQLite only")
        self.engine = engine
        self.steps: list[Step] = []
        self._measured = measured
        self._on = False
        event.listen(engine, "after_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def start(self) -> None:
        self._on = True

    def stop(self) -> None:
        self._on = False
        event.remove(self.engine, "after_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)

    @property
    def statements(self) -> int:
        return sum(1 for step in self.steps if step[1] is not None)

    def _key(self, conn: Any) -> int:
        return id(conn.connection.dbapi_connection)

    def _statement(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if self._on and self._measured():
            self.steps.append((self._key(conn), statement, parameters, many, ""))

    def _commit(self, conn: Any) -> None:
        if self._on and self._measured():
            self.steps.append((self._key(conn), None, None, False, "COMMIT"))

    def _rollback(self, conn: Any) -> None:
        if self._on and self._measured():
            self.steps.append((self._key(conn), None, None, False, "ROLLBACK"))


def snapshot(database: Path, copy: Path) -> None:
    """A consistent copy of the SQLite ``database`` (its WAL included)."""
    source = sqlite3.connect(database)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def replay(
    copy: Path,
    steps: Sequence[Step],
    by_statement: dict[str, float] | None = None,
    pragmas: Sequence[str] = (),
) -> float:
    """Run ``steps`` on ``copy`` with bare ``sqlite3`` (the pragmas Custos sets);
    return the CPU seconds of this thread it took. With ``by_statement``, also
    add each statement's own CPU seconds to it, by its text (COMMIT apart).
    ``pragmas``: more ``PRAGMA`` settings for each connection (to weigh one)."""
    connections: dict[int, sqlite3.Connection] = {}

    def connection(key: int) -> sqlite3.Connection:
        found = connections.get(key)
        if found is None:
            found = connections[key] = sqlite3.connect(copy, isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", *pragmas):
                found.execute(f"PRAGMA {pragma}")
            found.execute("PRAGMA busy_timeout=0")
        return found

    for key in {step[0] for step in steps}:
        connection(key)  # opened before the clock starts, as a pool's are
    clock = time.thread_time
    started = clock()
    for key, statement, parameters, many, end in steps:
        conn = connections[key]
        at = clock() if by_statement is not None else 0.0
        if statement is None:
            if conn.in_transaction:
                conn.execute(end)
        else:
            cursor = (
                conn.executemany(statement, parameters)
                if many
                else conn.execute(statement, parameters)
            )
            if cursor.description is not None:
                cursor.fetchall()
        if by_statement is not None:
            text = statement or end
            by_statement[text] = by_statement.get(text, 0.0) + clock() - at
    spent = clock() - started
    for conn in connections.values():
        conn.close()
    return spent


def not_main_thread() -> bool:
    """The measured threads of a bench whose main thread only polls."""
    return threading.current_thread() is not threading.main_thread()
