"""The fast path of ``audit verify`` (``custos.ledger.parallel``): how the
ledger is cut into ranges for worker processes, and, on a small SQLite file
ledger with blocks of 4 leaves, that forked workers give the roots of the
reference tree, that their leaves count in the progress, and that any broken
range or failed worker gives None (the caller then runs the exact pass)
(R-38: tampering is detected, however the scan is split). Forking tests are
kept few and small: every one forks two workers.

The whole ``audit verify`` with workers on both stores is in
tests/integration/ledger/test_parallel_verify.py."""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ledger_tables import Ledger
from structlog.testing import capture_logs

from conftest import pg_schema
from custos.ledger import parallel
from custos.ledger.parallel import (
    MIN_BLOCKS,
    WAIT_REPORT_S,
    Scan,
    _collect,
    _combine,
    _scan_own,
    default_workers,
    plan_ranges,
    scan_ledger,
)
from custos.ledger.scan import BLOCK_LEVEL, RangeJob, RangeResult

LEVEL = 2  # blocks of 4 leaves
ENTRIES = 100  # 100 // (4 * MIN_BLOCKS) = 3 processes at most


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Ledger]:
    """100 committed entries in a SQLite file (workers read it through
    connections of their own)."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", ENTRIES)
    ledger.conn.commit()
    yield ledger
    ledger.conn.close()
    ledger.engine.dispose()


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[int]]:
    """The start of every range handed to a forked worker. Only a worker may
    leave through ``os._exit``: the caller doing so is an error. A forked
    process that comes back out of ``_fork`` (as only a broken ``_fork`` lets
    it) leaves at once and is reported: it must never run the caller's code,
    where it could signal its whole process group."""
    started: list[int] = []
    fork = parallel._fork
    caller = os.getpid()
    leave = os._exit
    escaped = tmp_path / "escaped"

    def exit_worker(code: int) -> None:
        if os.getpid() == caller:
            raise AssertionError("the caller's process would leave")
        leave(code)

    def counted(engine: Any, job: RangeJob, *rest: Any) -> Any:
        started.append(job.start)
        try:
            return fork(engine, job, *rest)
        finally:
            if os.getpid() != caller:
                escaped.touch()
                leave(0)

    monkeypatch.setattr(os, "_exit", exit_worker)
    monkeypatch.setattr(parallel, "_fork", counted)
    yield started
    assert not escaped.exists(), "a forked worker returned into the caller's code"


def _change(book: Ledger, index: int) -> None:
    book.set(index + 1, canonical='{"n":"changed"}')
    book.conn.commit()


def _expected(book: Ledger, sizes: tuple[int, ...]) -> Scan:
    return Scan(
        entries=len(book.entries),
        bytes_hashed=sum(map(len, book.entries)),
        root=book.tree.root(),
        roots={s: book.tree.root(s) for s in sizes},
    )


def test_default_workers_are_the_cpus_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert default_workers() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert default_workers() == 1


def test_the_ledger_is_cut_at_block_multiples_near_equal_shares(book: Ledger) -> None:
    """Each range after the first starts at a block boundary and is bounded by
    the ``seq`` of the row claiming its first index; the number of processes
    is capped so that each gets ``MIN_BLOCKS`` blocks at least."""
    assert (MIN_BLOCKS, BLOCK_LEVEL) == (8, 12)
    sizes = (7, 64)
    assert plan_ranges(book.conn, ENTRIES, sizes, 3, LEVEL) == [
        RangeJob(0, None, 33, 32, sizes, LEVEL),
        RangeJob(32, 33, 69, 68, sizes, LEVEL),
        RangeJob(68, 69, None, None, sizes, LEVEL),
    ]
    assert plan_ranges(book.conn, ENTRIES, sizes, 9, LEVEL) == plan_ranges(
        book.conn, ENTRIES, sizes, 3, LEVEL
    )
    assert plan_ranges(book.conn, 95, (), 3, LEVEL) == [  # 95 // 32 = 2 processes
        RangeJob(0, None, 49, 48, (), LEVEL),
        RangeJob(48, 49, None, None, (), LEVEL),
    ]
    assert plan_ranges(book.conn, 64, (), 2, LEVEL) == [  # exactly 8 blocks each
        RangeJob(0, None, 33, 32, (), LEVEL),
        RangeJob(32, 33, None, None, (), LEVEL),
    ]
    single = [RangeJob(0, sizes=sizes, block_level=LEVEL)]
    assert plan_ranges(book.conn, 63, sizes, 2, LEVEL) == single  # under 8 blocks each
    assert plan_ranges(book.conn, ENTRIES, sizes, 1, LEVEL) == single
    assert plan_ranges(book.conn, ENTRIES, sizes, 3, 3) == [  # blocks of 8: 100 // 64 = 1
        RangeJob(0, sizes=sizes, block_level=3)
    ]


def test_a_missing_or_out_of_order_cut_hint_gives_a_single_range(book: Ledger) -> None:
    """The stored leaf indexes only hint where to cut: when no row claims a
    cut index, or the rows claiming the cuts are not in ``seq`` order, the
    whole ledger is one range (which then proves or disproves it all)."""
    single = [RangeJob(0, sizes=(9,), block_level=LEVEL)]
    book.set(69, leaf_index=1000)  # nobody claims 68
    book.conn.commit()
    assert plan_ranges(book.conn, ENTRIES, (9,), 3, LEVEL) == single
    book.set(33, leaf_index=68)  # swapped: the row claiming 68 now precedes the one claiming 32
    book.set(69, leaf_index=32)
    book.conn.commit()
    assert plan_ranges(book.conn, ENTRIES, (9,), 3, LEVEL) == single


def test_only_a_sqlite_file_or_postgresql_is_scanned_by_forked_workers(tmp_path: Path) -> None:
    """An in-memory SQLite database exists only in the caller's connection:
    workers could not read it."""
    for url in ("sqlite://", "sqlite:///", "sqlite:///:memory:"):
        memory = Ledger(url, 70)
        try:
            assert plan_ranges(memory.conn, 70, (), 2, LEVEL) == [RangeJob(0, block_level=LEVEL)]
        finally:
            memory.conn.close()
            memory.engine.dispose()
    with pg_schema() as url:
        book = Ledger(url, 70)
        try:
            book.conn.commit()
            assert plan_ranges(book.conn, 70, (), 2, LEVEL) == [
                RangeJob(0, None, 37, 36, (), LEVEL),
                RangeJob(36, 37, None, None, (), LEVEL),
            ]
        finally:
            book.conn.close()
            book.engine.dispose()


def test_a_worker_on_postgresql_reaches_the_same_schema() -> None:
    """A worker's own connection carries every connection parameter of the
    caller's engine (here the schema search path)."""
    with pg_schema() as url:
        book = Ledger(url, 70)
        try:
            book.conn.commit()
            cargs, cparams = book.engine.dialect.create_connect_args(book.engine.url)
            job = RangeJob(36, 37, None, None, (), LEVEL)
            result = _scan_own(book.engine, cargs, cparams, job)
            assert isinstance(result, RangeResult) and (result.start, result.count) == (36, 34)
        finally:
            book.conn.close()
            book.engine.dispose()


def test_without_fork_the_whole_ledger_is_one_range(
    book: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "fork")
    assert plan_ranges(book.conn, ENTRIES, (5,), 3, LEVEL) == [
        RangeJob(0, sizes=(5,), block_level=LEVEL)
    ]


def test_a_single_process_scan_reports_progress_after_each_block() -> None:
    """Wanted sizes that are not positive or beyond the ledger get no root."""
    book = Ledger("sqlite://", 10)
    try:
        seen: list[tuple[int, int]] = []
        scan = scan_ledger(
            book.conn,
            [0, -1, 3, 10, 11],
            block_level=LEVEL,
            progress=lambda done, total: seen.append((done, total)),
        )
        assert scan == _expected(book, (3, 10))
        assert seen == [(4, 10), (8, 10), (10, 10), (10, 10)]
        assert scan_ledger(book.conn, [5]) == _expected(book, (5,))  # the default block level
        book.set(9, canonical="{}")
        seen.clear()
        broken = scan_ledger(
            book.conn, [], block_level=LEVEL, progress=lambda *done: seen.append(done)
        )
        assert broken is None and seen == [(4, 10), (8, 10)]  # the blocks before the break
    finally:
        book.conn.close()
        book.engine.dispose()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_callers_scan_runs_without_the_cyclic_collector_and_restores_it(
    enabled: bool,
) -> None:
    """The caller's own range is scanned with the garbage collector off (its
    rows are freed by reference counts; collections only cost time), and the
    caller's setting is back afterwards, whether the scan proves or gives up."""
    book = Ledger("sqlite://", 10)
    states: list[bool] = []
    try:
        if not enabled:
            gc.disable()
        scan = scan_ledger(
            book.conn, [], block_level=LEVEL, progress=lambda *_: states.append(gc.isenabled())
        )
        assert scan == _expected(book, ()) and gc.isenabled() is enabled
        book.set(9, canonical="{}")
        assert scan_ledger(book.conn, [], block_level=LEVEL) is None
        assert gc.isenabled() is enabled
        assert states[:-1] == [False] * 3  # after each block; the final report comes after
    finally:
        gc.enable()
        book.conn.close()
        book.engine.dispose()


def test_forked_workers_give_the_roots_of_the_reference_tree(
    book: Ledger, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-38: two forked workers scan (32, 68) and (68, 100) while the caller
    scans (0, 32); the combined roots are the reference tree's, and the
    progress counts every range's leaves, only grows and ends at the total.
    While it waits, the caller looks at its workers every WAIT_REPORT_S."""
    timeouts: list[float] = []
    real_select = select.select

    def watched(r: Any, w: Any, x: Any, timeout: float) -> Any:
        timeouts.append(timeout)
        return real_select(r, w, x, timeout)

    monkeypatch.setattr(parallel, "ready_to_read", watched)
    assert scan_ledger(book.conn, (), block_level=LEVEL) == _expected(book, ())
    assert forks == []  # one process unless asked
    seen: list[tuple[int, int]] = []
    sizes = (1, 7, 32, 33, 64, 68, 99, 100, 101)
    scan = scan_ledger(
        book.conn,
        sizes,
        workers=3,
        block_level=LEVEL,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert forks == [32, 68]
    assert scan == _expected(book, sizes[:-1])
    # the last worker's outcome is reported with every count in, then the total
    assert seen[-1] == (ENTRIES, ENTRIES) and seen[-2] == (ENTRIES, ENTRIES)
    assert all(total == ENTRIES for _, total in seen)
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[0] >= 4
    # the caller's 8 blocks, once after each worker's outcome, and the total
    assert len(seen) >= 8 + 2 + 1
    assert timeouts and set(timeouts) == {WAIT_REPORT_S} and WAIT_REPORT_S == 0.2


@pytest.mark.parametrize("index", [40, 10])
def test_a_broken_range_anywhere_gives_none_without_blaming_a_worker(
    book: Ledger, forks: list[int], index: int
) -> None:
    """A changed entry in a worker's range or in the caller's own: None, and
    no worker failure is logged (a broken first range cancels the workers)."""
    _change(book, index)
    seen: list[tuple[int, int]] = []
    with capture_logs() as logs:
        scan = scan_ledger(
            book.conn, (), workers=3, block_level=LEVEL, progress=lambda *d: seen.append(d)
        )
    assert scan is None and forks == [32, 68]
    assert logs == []
    if index < 32:  # the caller's blocks before the break, then no wait for the workers
        assert len(seen) == index // 4


def test_a_caller_that_fails_kills_its_workers_and_raises(
    book: Ledger, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("cursor gone")

    monkeypatch.setattr(parallel, "range_rows", broken)
    seen: list[tuple[int, int]] = []
    with pytest.raises(RuntimeError, match="cursor gone"):
        scan_ledger(book.conn, (), workers=3, block_level=LEVEL, progress=lambda *d: seen.append(d))
    assert forks == [32, 68] and seen == []  # nobody waited for the workers


def _child(result: RangeResult | None, linger: float) -> tuple[int, int]:
    """A process whose result (if any) is already in its pipe, which ends
    after ``linger`` seconds."""
    read_end, write_end = os.pipe()
    if result is not None:
        os.write(write_end, pickle.dumps(result))
    os.close(write_end)
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(linger)
        finally:
            os._exit(0)
    return pid, read_end


def test_collect_reads_every_outcome_in_order_and_reaps_every_worker() -> None:
    first, second = RangeResult(32, 4, 10, {}), RangeResult(36, 2, 5, {})
    calls: list[int] = []
    started = [_child(first, 0), _child(second, 0)]
    assert _collect(started, cancel=False, waiting=lambda: calls.append(1)) == [first, second]
    assert calls == [1, 1]  # results ready: no wait, one report after each
    lingering = _child(first, 0.5)
    assert _collect([lingering], cancel=False) == [first]
    with pytest.raises(ChildProcessError):  # already reaped
        os.waitpid(lingering[0], os.WNOHANG)
    stuck = _child(None, 60)
    calls.clear()
    [outcome] = _collect([stuck], cancel=True, waiting=lambda: calls.append(1))
    assert outcome == f"worker {stuck[0]} ended with status {signal.SIGKILL} and no result"
    assert calls == []


def test_a_failed_or_dead_worker_gives_none_and_is_logged(
    book: Ledger, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "_scan_own", lambda *_: "OperationalError: locked")
    with capture_logs() as logs:
        assert scan_ledger(book.conn, (), workers=3, block_level=LEVEL) is None
    assert logs == [
        {
            "event": "ledger_scan_worker_failed",
            "errors": ["OperationalError: locked"] * 2,
            "log_level": "warning",
        }
    ]
    monkeypatch.setattr(parallel, "_scan_own", lambda *_: os.kill(os.getpid(), signal.SIGKILL))
    with capture_logs() as logs:
        assert scan_ledger(book.conn, (), workers=3, block_level=LEVEL) is None
    [failed] = logs
    assert len(set(failed["errors"])) == 2  # each names its own worker
    assert all(
        e.startswith("worker ") and e.endswith(f" ended with status {signal.SIGKILL} and no result")
        for e in failed["errors"]
    )
    monkeypatch.setattr(parallel, "_scan_own", _scan_own)

    def unpicklable(_: object) -> bytes:
        raise pickle.PicklingError("no")

    # a worker that cannot send its result leaves normally, without one
    monkeypatch.setattr(parallel, "pickle", SimpleNamespace(dumps=unpicklable))
    with capture_logs() as logs:
        assert scan_ledger(book.conn, (), workers=3, block_level=LEVEL) is None
    [failed] = logs
    assert all(e.endswith(" ended with status 0 and no result") for e in failed["errors"])
    assert forks == [32, 68] * 3


def test_a_worker_scans_its_range_through_a_connection_of_its_own(
    book: Ledger, tmp_path: Path
) -> None:
    """What a worker runs, here in the caller's process: the RangeResult of
    an intact range, counting its leaves; None for a broken one; the error
    as text when the scan itself fails."""
    engine = book.engine
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    job = RangeJob(32, 33, 69, 68, (40,), LEVEL)
    positions: list[int] = []
    result = _scan_own(engine, cargs, cparams, job, positions.append)
    assert isinstance(result, RangeResult)
    assert (result.start, result.count) == (32, 36)
    assert result.bytes_hashed == sum(map(len, book.entries[32:68]))
    assert positions == list(range(36, 69, 4))
    assert _scan_own(engine, cargs, cparams, RangeJob(32, 33, 69, 60, (), LEVEL)) is None
    empty = Ledger(f"sqlite:///{tmp_path / 'empty.db'}", 0)
    empty.conn.close()
    (tmp_path / "empty.db").unlink()
    (tmp_path / "empty.db").mkdir()  # not a database file at all
    cargs, cparams = empty.engine.dialect.create_connect_args(empty.engine.url)
    failure = _scan_own(empty.engine, cargs, cparams, job)
    assert isinstance(failure, str) and failure.startswith("OperationalError: ")
    empty.engine.dispose()


def test_combining_ranges_needs_every_one_intact() -> None:
    whole = RangeResult(0, 4, 12, {})
    with capture_logs() as logs:
        assert _combine([whole, None], (), LEVEL) is None
        assert _combine([None, "worker 7 ended with status 9 and no result"], (), LEVEL) is None
    assert logs == []
