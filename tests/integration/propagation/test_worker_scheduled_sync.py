"""The worker's scheduled ``subjects sync`` (``worker.sync_interval_s``): once per
interval on a controllable clock, as ``system:sync``, and once per interval
across several workers sharing one PostgreSQL database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import World, make_world, pg_schema
from custos.domain.events import EventType
from custos.propagation.worker import Worker
from custos.store.tables import ledger, schedules

TARGETS = {"directory": {"kind": "builtin", "identity_source": True}}
HOUR = {"sync_interval_s": 3600}


def _syncs(world: World) -> list[str]:
    """The actors of every sync summary event, oldest first."""
    with world.svc.uow(read_only=True) as uow:
        return list(
            uow.conn.execute(
                select(ledger.c.actor)
                .where(ledger.c.type == str(EventType.SUBJECTS_SYNCED))
                .order_by(ledger.c.seq)
            ).scalars()
        )


@pytest.fixture
def hourly(tmp_path: Path) -> Iterator[World]:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets=TARGETS, worker=HOUR
    )
    yield world
    world.svc.engine.dispose()


def test_the_worker_syncs_once_per_interval_as_system_sync(hourly: World) -> None:
    """First pass syncs (the new directory account becomes a subject); passes
    within the hour do not; the first pass after the hour does. The summary
    event's actor is the worker's ``system:sync``, not ``cli:local``."""
    hourly.directory.create_account("quinn")
    worker = Worker(hourly.svc, owner="w1")
    try:
        worker.run_once()
        with hourly.svc.uow(read_only=True) as uow:
            assert uow.subjects.get("quinn") is not None
        assert _syncs(hourly) == ["system:sync"]
        for _ in range(3):
            hourly.clock.advance(timedelta(minutes=19))
            worker.run_once()
        assert len(_syncs(hourly)) == 1  # 57 minutes: not yet
        hourly.clock.advance(timedelta(minutes=3))
        worker.run_once()
        worker.run_once()
        assert _syncs(hourly) == ["system:sync", "system:sync"]
    finally:
        worker.close()


def test_without_an_interval_the_worker_never_syncs(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets=TARGETS)
    world.directory.create_account("rhea")
    worker = Worker(world.svc, owner="w1")
    try:
        for _ in range(3):
            worker.run_once()
            world.clock.advance(timedelta(days=1))
        assert _syncs(world) == []
        with world.svc.uow(read_only=True) as uow:
            assert uow.subjects.get("rhea") is None
    finally:
        worker.close()
        world.svc.engine.dispose()


def test_two_workers_on_postgresql_sync_once_per_interval(tmp_path: Path) -> None:
    """Several workers, each with its own engine on one PostgreSQL database, find
    the sync due at the same instant: exactly one runs it (the last run is
    claimed in ``schedules``); an hour later again exactly one."""
    for i in range(3):
        (tmp_path / f"w{i}").mkdir()
    with pg_schema() as url:
        worlds = [
            make_world(url, tmp_path / f"w{i}", targets=TARGETS, worker=HOUR) for i in range(3)
        ]
        workers = [Worker(w.svc, owner=f"worker-{i}") for i, w in enumerate(worlds)]
        try:
            worlds[0].directory.create_account("sol")
            for round_ in range(2):
                barrier = threading.Barrier(len(workers))
                results: list[int] = []

                def run(worker: Worker) -> None:
                    barrier.wait()
                    results.append(worker._sync_if_due())

                threads = [threading.Thread(target=run, args=(w,)) for w in workers]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=60)
                assert len(results) == len(workers)
                assert len(_syncs(worlds[0])) == round_ + 1
                for world in worlds:
                    world.clock.advance(timedelta(hours=1))
            with worlds[0].svc.uow(read_only=True) as uow:
                row = uow.conn.execute(select(schedules)).one()
            assert row.name == "subjects_sync" and row.claimed_by.startswith("worker-")
        finally:
            for worker in workers:
                worker.close()
            for world in worlds:
                world.svc.engine.dispose()
