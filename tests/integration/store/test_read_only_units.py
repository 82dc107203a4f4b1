"""Read-only units of work (``Services.uow(read_only=True)``): on SQLite they
begin deferred and read the last committed snapshot (WAL) without waiting for a
writer's lock; on PostgreSQL the transaction is READ ONLY, so a write in one is
refused by the database. Neither leaks into the next unit of work on the same
pooled connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc, select, text

from conftest import START, World, make_world, pg_schema
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import SYSTEM_ACTOR
from custos.propagation.worker import Worker
from custos.store.tables import throttles

#: Far above what an unblocked read takes, far below the 60 s busy timeout.
GUARD_S = 5.0


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[World]:
    """A Custos on PostgreSQL only (read-only transactions are its feature)."""
    with pg_schema() as url:
        world = make_world(url, tmp_path)
        try:
            yield world
        finally:
            world.svc.engine.dispose()


def _event(n: int) -> DomainEvent:
    return DomainEvent(
        type=EventType.NOTIFICATION_SENT,
        occurred_at=START,
        actor=SYSTEM_ACTOR,
        subject_id=f"ro-{n}",
        case_id=None,
        data={"n": n},
    )


def _in_thread(action: Callable[[], Any]) -> tuple[bool, dict[str, Any]]:
    """Run ``action`` in a thread; (finished within the guard, its result or error)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = action()
        except BaseException as error:
            out["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    return not thread.is_alive(), out


def test_sqlite_read_only_unit_reads_while_a_writer_holds_the_lock(sqlite_world: World) -> None:
    """A writer holds SQLite's write lock (BEGIN IMMEDIATE) with uncommitted
    ledger rows; a read-only unit of work in another thread opens, reads the
    committed snapshot and closes without waiting. A plain BEGIN IMMEDIATE on a
    raw connection with a 200 ms busy timeout is refused meanwhile: the lock
    really is held."""
    world = sqlite_world
    with world.svc.uow() as uow:
        uow.ledger.append([_event(0)])
        uow.commit()
    with world.svc.uow(read_only=True) as uow:
        committed = uow.ledger.count()

    writer = world.svc.uow().__enter__()
    try:
        writer.ledger.append([_event(1), _event(2)])  # uncommitted, lock held
        assert writer.ledger.count() == committed + 2

        raw = world.svc.engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=200")
            with pytest.raises(Exception, match="locked"):
                driver.execute("BEGIN IMMEDIATE")
        finally:
            raw.close()

        def read() -> tuple[int, int]:
            with world.svc.uow(read_only=True) as uow:
                return uow.ledger.count(), uow.ledger.size()

        finished, out = _in_thread(read)
        assert finished, f"a read-only unit of work waited > {GUARD_S} s for the writer"
        assert out == {"result": (committed, committed)}

        # The worker's read-only passes do not wait either (nothing expired here).
        finished, out = _in_thread(Worker(world.svc, owner="ro-test").expire_cases)
        assert finished, "Worker.expire_cases waited for the writer"
        assert out == {"result": 0}
        writer.commit()
    finally:
        writer.__exit__(None, None, None)

    with world.svc.uow(read_only=True) as uow:
        assert uow.ledger.count() == committed + 2  # a new snapshot sees the commit


def test_postgres_refuses_a_write_in_a_read_only_unit_and_writes_nothing(
    pg_world: World,
) -> None:
    world = pg_world
    with world.svc.uow(read_only=True) as uow:
        assert uow.conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
        assert uow.conn.execute(select(throttles)).all() == []  # reads work
        with pytest.raises(exc.DBAPIError, match="read-only transaction"):
            uow.conn.execute(throttles.insert().values(key="ro", failures=1))
    with world.svc.uow(read_only=True) as uow:
        before = uow.ledger.count()
    with world.svc.uow(read_only=True) as uow, pytest.raises(exc.DBAPIError, match="read-only"):
        uow.ledger.append([_event(3)])
        uow.commit()
    with world.svc.uow() as uow:
        assert uow.conn.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
        assert uow.conn.execute(select(throttles).where(throttles.c.key == "ro")).first() is None
        assert uow.ledger.count() == before


def test_read_only_does_not_leak_into_the_next_unit_of_work(world: World) -> None:
    """The pool hands the same connection to the next unit of work: a plain one
    writes and commits as usual after a read-only one."""
    with world.svc.uow(read_only=True) as uow:
        before = uow.ledger.count()
    for _ in range(3):
        with world.svc.uow(read_only=True) as uow:
            uow.conn.execute(select(throttles)).all()
        with world.svc.uow() as uow:
            uow.conn.execute(
                throttles.insert().values(key=f"after-ro-{uow.ledger.count()}", failures=0)
            )
            uow.ledger.append([_event(4)])
            uow.commit()
    with world.svc.uow(read_only=True) as uow:
        assert len(uow.conn.execute(select(throttles)).all()) == 3
        assert uow.ledger.count() == before + 3
