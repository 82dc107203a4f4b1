"""The fast path of ``audit verify``: scan the ledger in aligned ranges, in
parallel processes, and combine their subtrees into the roots.

The ledger is cut at leaf indexes that are multiples of the block size, so
every range is a run of whole complete subtrees (plus, in the last range, a
partial tail). The caller's process scans the first range through the caller's
connection while forked workers scan the others, each with a connection of its
own; each range returns its block roots, and the parent joins them with RFC
9162 node hashing (:class:`custos.ledger.levels.Subtrees`).

Soundness does not depend on the cut points: the stored ``leaf_index`` only
tells where to cut (the ``seq`` of the row claiming each cut index). The
ranges partition ``seq`` order, and each range must hold exactly the indexes
from its start up to the next cut, so together they prove that the rows in
``seq`` order carry 0, 1, ..., n - 1. Anything else, and any worker failure,
gives None: the caller then runs the exact single pass.

Workers are forked (``os.fork``) only when asked (``workers > 1``) for a
PostgreSQL store or a SQLite *file* with at least ``MIN_BLOCKS`` blocks per
worker. A worker never touches an inherited connection, stdio or logging: it
opens its own connection, sends its result through a pipe and leaves through
``os._exit``; the parent keeps its own transaction open until every worker has
finished. Callers asking for workers promise that no other thread of theirs is
inside SQLite, libpq or OpenSSL meanwhile (a CLI progress-bar thread is fine).

Progress counts every range: each worker writes how many leaves it has scanned
into its own slot of an anonymous shared memory map, and the parent adds the
slots up after each of its own blocks, and every fraction of a second while it
waits for the workers.
"""

from __future__ import annotations

import gc
import mmap
import os
import pickle
import signal
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from select import select as ready_to_read
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, select

from custos.ledger import merkle
from custos.ledger.levels import Subtrees
from custos.ledger.scan import (
    BLOCK_LEVEL,
    LEAF_PREFIX,
    RangeJob,
    RangeResult,
    range_rows,
    scan_rows,
)
from custos.ledger.tree_store import StoredTree
from custos.store.tables import ledger

log = structlog.get_logger("custos.ledger.parallel")

#: Fewer blocks than this per worker and a fork costs more than it saves.
MIN_BLOCKS = 8

#: Seconds between progress reports while the parent waits for its workers.
WAIT_REPORT_S = 0.2

Progress = Callable[[int, int], None]
Worker = tuple[int, int]  # pid, read end of its result pipe
_SLOT = struct.Struct("q")  # leaves scanned so far by one range


def default_workers() -> int:
    """The CPUs this process may run on: the worker count ``audit verify`` uses."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Scan:
    """An intact ledger as recomputed: ``entries`` leaves, ``bytes_hashed``
    entry bytes, its ``root`` and ``roots[size]`` for every wanted size that is
    not bigger than the ledger."""

    entries: int
    bytes_hashed: int
    root: bytes
    roots: dict[int, bytes]


def scan_ledger(
    conn: Connection,
    sizes: Iterable[int],
    *,
    workers: int = 1,
    block_level: int | None = None,
    progress: Progress | None = None,
) -> Scan | None:
    """Recompute the ledger seen through ``conn`` with up to ``workers``
    processes, or None unless every row is intact (leaf indexes 0..n-1 in
    ``seq`` order, every stored leaf hash equal to the recomputed one).
    ``block_level`` defaults to the module's ``BLOCK_LEVEL``."""
    wanted = tuple(sorted({s for s in sizes if s > 0}))
    total = StoredTree(conn).size()
    block_level = BLOCK_LEVEL if block_level is None else block_level
    jobs = plan_ranges(conn, total, wanted, workers, block_level)
    started: list[Worker] = []
    mine: RangeResult | None = None
    scanned = mmap.mmap(-1, _SLOT.size * len(jobs))  # shared with the forked workers

    def report(done: int) -> None:
        if progress is not None:
            _SLOT.pack_into(scanned, 0, done - jobs[0].start)
            counts = (_SLOT.unpack_from(scanned, i * _SLOT.size)[0] for i in range(len(jobs)))
            seen = sum(counts)
            progress(seen, max(total, seen))

    def waiting() -> None:
        report(jobs[0].start + _SLOT.unpack_from(scanned, 0)[0])

    try:
        started.extend(
            _fork(conn.engine, job, scanned, i) for i, job in enumerate(jobs[1:], start=1)
        )
        raw, dialect = conn.connection.dbapi_connection, conn.dialect.name
        with _no_collection():
            blocks = range_rows(raw, dialect, jobs[0])
            mine = scan_rows(blocks, jobs[0], report, LEAF_PREFIX[dialect])
    finally:  # a broken first range makes the workers' answers moot
        theirs = _collect(started, cancel=mine is None, waiting=waiting)
        scanned.close()
    scan = _combine([mine, *theirs], wanted, block_level)
    if scan is not None and progress is not None:
        progress(scan.entries, max(total, scan.entries))
    return scan


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile (as it is in a worker): a
    scan allocates a row tuple per entry, all freed by reference counts, and
    the collections they set off (full ones walking every object of the
    calling process) cost about 0.02 s of CPU per 200,000 rows in a process
    holding the CLI's modules. Restores the caller's setting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def plan_ranges(
    conn: Connection, total: int, sizes: tuple[int, ...], workers: int, block_level: int
) -> list[RangeJob]:
    """The ranges to scan for a ledger of about ``total`` entries: one job per
    process, the caller's first; a single job when forking is impossible or
    unhelpful, or when the stored leaf indexes give no usable cut."""
    block = 1 << block_level
    workers = min(workers, total // (block * MIN_BLOCKS))
    if workers < 2 or not _can_fork(conn):
        return [RangeJob(0, sizes=sizes, block_level=block_level)]
    cuts = sorted({round(total * i / workers / block) * block for i in range(1, workers)})
    seqs = [s for s in (_seq_at(conn, cut) for cut in cuts) if s is not None]
    if len(seqs) != len(cuts) or any(b <= a for a, b in pairwise(seqs)):
        return [RangeJob(0, sizes=sizes, block_level=block_level)]
    bounds: list[int | None] = [None, *seqs, None]
    starts = [0, *cuts]
    stops: list[int | None] = [*cuts, None]
    return [
        RangeJob(starts[i], bounds[i], bounds[i + 1], stops[i], sizes, block_level)
        for i in range(len(starts))
    ]


def _can_fork(conn: Connection) -> bool:
    if not hasattr(os, "fork"):
        return False
    if conn.dialect.name == "postgresql":
        return True
    database = conn.engine.url.database
    return conn.dialect.name == "sqlite" and database not in (None, "", ":memory:")


def _seq_at(conn: Connection, index: int) -> int | None:
    """The ``seq`` of the row that claims leaf index ``index`` (a cut hint)."""
    found = conn.execute(
        select(ledger.c.seq).where(ledger.c.leaf_index == index).order_by(ledger.c.seq).limit(1)
    ).scalar()
    return None if found is None else int(found)


def _fork(engine: Engine, job: RangeJob, scanned: mmap.mmap, slot: int) -> Worker:
    """Start a process scanning ``job``, counting its leaves in ``slot`` of
    ``scanned``; it never returns into the caller's code."""
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            os.close(read_end)
            gc.disable()  # no collection of inherited objects (and their finalizers)

            def count(position: int) -> None:
                _SLOT.pack_into(scanned, slot * _SLOT.size, position - job.start)

            payload = pickle.dumps(_scan_own(engine, cargs, cparams, job, count))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def _scan_own(
    engine: Engine,
    cargs: Any,
    cparams: Any,
    job: RangeJob,
    on_block: Callable[[int], None] | None = None,
) -> RangeResult | str | None:
    """``job`` scanned through a new connection: its RangeResult, None when the
    range is not intact, a message when the scan itself failed."""
    try:
        raw: Any = engine.dialect.connect(*cargs, **cparams)
        try:
            dialect = engine.dialect.name
            return scan_rows(range_rows(raw, dialect, job), job, on_block, LEAF_PREFIX[dialect])
        finally:
            raw.close()
    except BaseException as exc:  # reported to the parent, which falls back to the exact pass
        return f"{type(exc).__name__}: {exc}"


def _collect(
    started: list[Worker], *, cancel: bool, waiting: Callable[[], None] | None = None
) -> list[RangeResult | str | None]:
    """Every worker's outcome, in job order; waits for all of them (after
    killing them when ``cancel``), calling ``waiting`` every ``WAIT_REPORT_S``
    seconds meanwhile and once after each worker's outcome."""
    outcomes: list[RangeResult | str | None] = []
    for pid, read_end in started:
        if cancel:
            os.kill(pid, signal.SIGKILL)
        elif waiting is not None:
            while not ready_to_read([read_end], [], [], WAIT_REPORT_S)[0]:
                waiting()
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if payload:  # our own child's RangeResult, from this very process image
            outcomes.append(pickle.loads(payload))  # noqa: S301
        else:
            outcomes.append(f"worker {pid} ended with status {status} and no result")
        if waiting is not None and not cancel:
            waiting()
    return outcomes


def _combine(
    results: list[RangeResult | str | None], sizes: tuple[int, ...], block_level: int
) -> Scan | None:
    ranges = [r for r in results if isinstance(r, RangeResult)]
    if len(ranges) != len(results):
        failures = [r for r in results if isinstance(r, str)]
        if failures and results[0] is not None:  # not merely the workers we cancelled
            log.warning("ledger_scan_worker_failed", errors=failures)
        return None
    tree = Subtrees(block_level)
    for r in ranges:
        tree.nodes.update(r.nodes)
    entries = ranges[-1].start + ranges[-1].count
    return Scan(
        entries=entries,
        bytes_hashed=sum(r.bytes_hashed for r in ranges),
        root=merkle.root(entries, tree),
        roots={s: merkle.root(s, tree) for s in sizes if s <= entries},
    )
