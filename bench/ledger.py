"""Benchmark: the tamper-evident ledger on the embedded default (SQLite, WAL,
``synchronous=FULL`` so every commit is durable), or on PostgreSQL with
``--database-url``.

1. Append rate: one event per transaction through ``LedgerRepository.append``
   (leaf hash, subtree nodes, serialisation) against a plain insert of the same
   rows into a table without the tree, in the same store.
2. ``audit verify`` throughput (read every entry from the store, recompute its
   leaf hash and the whole tree, with one process per CPU as ``custos audit
   verify`` does) against raw ``hashlib.sha256`` over the same entry bytes
   already in memory, one call per entry, in the same run. Target: at least
   0.5 of raw. A second baseline, "read-only", fetches the same rows through
   the same queries in the same processes without hashing: what the store
   alone costs. Each is timed ``--rounds`` times, interleaved, and the best
   round counts (the machine may be shared); the median is printed too.
3. Inclusion-proof time at 1,000 and at 1,000,000 entries. Target: logarithmic
   growth. The big tree is built directly in bulk (leaf rows and node rows
   computed in Python and inserted with executemany, the same hashes append
   would write), since a million single appends would take long for nothing.

    uv run python bench/ledger.py                  # 1,000,000 entries
    uv run python bench/ledger.py --entries 100000 # quicker

Every figure is printed with /proc/loadavg at the time it was taken; run it
under ``nice -n 5`` on a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, Text, event

from custos.domain.events import DomainEvent, EventType
from custos.ledger import parallel
from custos.ledger.merkle import completed_nodes, leaf_hash
from custos.ledger.parallel import default_workers, plan_ranges
from custos.ledger.scan import BLOCK_LEVEL, RangeJob, range_rows
from custos.ledger.tree_store import StoredTree
from custos.ledger.verify import verify_ledger
from custos.store.database import make_engine, upgrade
from custos.store.ledger_repository import LedgerRepository, canonical_bytes
from custos.store.tables import ledger, ledger_nodes

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
plain_meta = MetaData()
plain = Table(
    "bench_plain_ledger",
    plain_meta,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(80), nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("subject_id", String(200)),
    Column("case_id", String(64)),
    Column("outcome", String(20), nullable=False),
    Column("canonical", Text, nullable=False),
)


def _event(n: int) -> DomainEvent:
    return DomainEvent(
        type=EventType.RECEIPT_SUCCEEDED,
        occurred_at=NOW,
        actor="system:worker",
        subject_id=f"subject-{n % 5000}",
        case_id=f"case-20261125-{n:010x}",
        reason="password set; pwdLastSet updated",
        data={"target": "corp-ad", "account": f"user{n}", "attempt": 1, "state": "succeeded"},
    )


def _durable(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _full(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=FULL")


def bench_appends(engine: Engine, count: int) -> tuple[float, float]:
    """Seconds for ``count`` single-event ledger appends, and for plain inserts."""
    plain_meta.create_all(engine)
    start = time.perf_counter()
    for n in range(count):
        with engine.begin() as conn:
            LedgerRepository(conn).append([_event(n)])
    ledger_s = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(count):
        e = _event(n)
        event_id = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(
                plain.insert().values(
                    event_id=event_id,
                    type=str(e.type),
                    occurred_at=NOW.isoformat(),
                    actor=e.actor,
                    subject_id=e.subject_id,
                    case_id=e.case_id,
                    outcome=str(e.outcome),
                    canonical=canonical_bytes(event_id, e).decode(),
                )
            )
    return ledger_s, time.perf_counter() - start


def _bulk_rows(start: int, stop: int, pending: dict[tuple[int, int], bytes]) -> Iterator[Any]:
    """Ledger rows and node rows for leaves [start, stop), as append writes them."""
    for n in range(start, stop):
        event_id = f"00000000-0000-4000-8000-{n:012d}"
        e = _event(n)
        data = canonical_bytes(event_id, e)
        leaf = leaf_hash(data)
        row = {
            "event_id": event_id,
            "type": str(e.type),
            "occurred_at": NOW,
            "actor": e.actor,
            "subject_id": e.subject_id,
            "case_id": e.case_id,
            "outcome": "success",
            "canonical": data.decode(),
            "leaf_index": n,
            "leaf_hash": leaf,
        }
        pending[(0, n)] = leaf
        done = completed_nodes(n, leaf, lambda lv, p: pending.pop((lv, p)))
        for level, position, value in done:
            pending[(level, position)] = value
        if done:  # only even positions wait for a sibling; the rest were consumed
            pending.pop((0, n), None)
            for level, position, _ in done[:-1]:
                pending.pop((level, position), None)
        yield row, [{"level": lv, "position": p, "hash": h} for lv, p, h in done]


def bulk_fill(engine: Engine, start: int, stop: int, pending: dict[tuple[int, int], bytes]) -> None:
    chunk: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for row, node_rows in _bulk_rows(start, stop, pending):
        chunk.append(row)
        nodes.extend(node_rows)
        if len(chunk) == 20_000:
            _flush(engine, chunk, nodes)
    _flush(engine, chunk, nodes)


def _flush(engine: Engine, rows: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(ledger.insert(), rows)
            if nodes:
                conn.execute(ledger_nodes.insert(), nodes)
    rows.clear()
    nodes.clear()


def proof_times(engine: Engine, size: int, samples: int = 300) -> list[float]:
    rng = random.Random(size)
    times = []
    with engine.connect() as conn:
        tree = StoredTree(conn)
        for _ in range(samples):
            index = rng.randrange(size)
            start = time.perf_counter()
            tree.inclusion_proof(index, size)
            times.append(time.perf_counter() - start)
    return times


# wall s, CPU s (this process and its children), load, CPU s of the PostgreSQL
# backends that served the ranges (0 on SQLite, which runs in the client)
Timing = tuple[float, float, str, float]


class BackendMeter:
    """CPU seconds of every PostgreSQL backend that serves a range, whichever
    process (the caller or a forked worker) reads it: ``range_rows`` is wrapped
    to read the backend's /proc/<pid>/schedstat (run time in ns; the server runs
    on this machine) before its range and after it, and each process appends
    its figure to a file the parent sums up."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_text("")
        self._inner = range_rows

    def install(self) -> None:
        """Meter the ranges verify reads (the fast path calls ``parallel.range_rows``)."""
        vars(parallel)["range_rows"] = self.range_rows

    def range_rows(self, dbapi_connection: Any, dialect: str, job: RangeJob) -> Iterator[Any]:
        if dialect != "postgresql":
            yield from self._inner(dbapi_connection, dialect, job)
            return
        pid = dbapi_connection.info.backend_pid
        before = _schedstat(pid)
        try:
            yield from self._inner(dbapi_connection, dialect, job)
        finally:
            spent = _schedstat(pid) - before
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, f"{spent}\n".encode())
            finally:
                os.close(fd)

    def take(self) -> float:
        """Seconds recorded since the last call (and forget them)."""
        spent = sum(float(line) for line in self.path.read_text().split())
        self.path.write_text("")
        return spent


def _schedstat(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
        return int(f.read().split()[0]) / 1e9


METER: BackendMeter | None = None


def _backend_spent() -> float:
    return 0.0 if METER is None else METER.take()


def load() -> str:
    """The first three fields of /proc/loadavg (1, 5, 15 minutes): printed
    beside every figure, since the machine may be shared."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu() -> float:
    mine, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def time_verify(engine: Engine, workers: int) -> tuple[Timing, int, int]:
    """((wall, CPU), entries, bytes) of one ``verify_ledger`` over the whole store."""
    with engine.connect() as conn:
        _backend_spent()
        start, cpu = time.perf_counter(), _cpu()
        report = verify_ledger(conn, {}, [], workers=workers)
        timing = time.perf_counter() - start, _cpu() - cpu, load(), _backend_spent()
    assert report.ok, report.problems[:3]
    return timing, report.entries, report.bytes_hashed


def time_read_only(engine: Engine, workers: int) -> Timing:
    """(wall, CPU) to fetch the rows verify fetches, through the same queries
    in the same number of processes, without hashing anything."""
    with engine.connect() as conn:
        _backend_spent()
        start, cpu = time.perf_counter(), _cpu()
        jobs = plan_ranges(conn, StoredTree(conn).size(), (), workers, BLOCK_LEVEL)
        pids = []
        for job in jobs[1:]:
            pid = os.fork()
            if pid == 0:
                try:
                    cargs, cparams = engine.dialect.create_connect_args(engine.url)
                    _drain(engine.dialect.connect(*cargs, **cparams), engine.dialect.name, job)
                finally:
                    os._exit(0)
            pids.append(pid)
        _drain(conn.connection.dbapi_connection, conn.dialect.name, jobs[0])
        for pid in pids:
            os.waitpid(pid, 0)
        return time.perf_counter() - start, _cpu() - cpu, load(), _backend_spent()


def _drain(dbapi_connection: Any, dialect: str, job: RangeJob) -> None:
    read = range_rows if METER is None else METER.range_rows  # metered as verify is
    for _ in read(dbapi_connection, dialect, job):
        pass


def time_raw(blobs: list[bytes]) -> Timing:
    """(wall, CPU) for ``hashlib.sha256(entry).digest()`` over every entry in memory."""
    sha256 = hashlib.sha256
    start, cpu = time.perf_counter(), _cpu()
    for blob in blobs:
        sha256(blob).digest()
    return time.perf_counter() - start, _cpu() - cpu, load(), 0.0


def bench_verify(engine: Engine, workers: int, rounds: int) -> None:
    with engine.connect() as conn:
        blobs = [
            r[0].encode()
            for r in conn.execute(ledger.select().with_only_columns(ledger.c.canonical))
        ]
    verify: list[Timing] = []
    read: list[Timing] = []
    raw: list[Timing] = []
    for _ in range(rounds):
        timing, entries, size_bytes = time_verify(engine, workers)
        verify.append(timing)
        read.append(time_read_only(engine, workers))
        raw.append(time_raw(blobs))
    assert size_bytes == sum(map(len, blobs))
    mb = size_bytes / 1e6

    postgresql = engine.dialect.name == "postgresql"

    def line(name: str, timings: list[Timing], what: str) -> str:
        walls = [wall for wall, _, _, _ in timings]
        best, cpu, at, server = min(timings)
        least = min(c for _, c, _, _ in timings)
        backend = ""
        if postgresql and name != "raw sha256":
            fewest = min(s for _, _, _, s in timings)
            backend = f" + backends {server:.3f}s (least {fewest:.3f}s)"
        return (
            f"  {name:<10} best {best:.3f}s = {entries / best:,.0f} entries/s "
            f"({mb / best:,.0f} MB/s), median {statistics.median(walls):.3f}s, CPU {cpu:.3f}s "
            f"(least of all rounds {least:.3f}s){backend}, loadavg {at}  <- {what}"
        )

    print(
        f"audit verify: {entries:,} entries, {mb:.1f} MB, {workers} process(es), "
        f"best of {rounds} rounds on {os.cpu_count()} CPUs; loadavg {load()}"
    )
    print(line("raw sha256", raw, "hashlib over the entry bytes in memory, one process"))
    print(line("read-only", read, "the same rows fetched, nothing hashed"))
    print(line("verify", verify, "fetch, leaf hashes, checks, whole tree"))
    (raw_s, raw_cpu, _, _), (read_s, _, _, _), (verify_s, verify_cpu, _, server) = (
        min(t) for t in (raw, read, verify)
    )
    cpus = os.cpu_count() or 1
    both = verify_cpu + server
    print(
        f"  verify / raw = {raw_s / verify_s:.2f} (target 0.5); "
        f"read-only / raw = {raw_s / read_s:.2f} (what the store alone allows); "
        f"CPU: verify costs {verify_cpu / raw_cpu:.1f}x raw"
        + (f", {both / raw_cpu:.1f}x with its PostgreSQL backends" if postgresql else "")
        + f", so on {cpus} idle CPUs at most {min(workers, cpus) * raw_cpu / verify_cpu:.2f}"
        + (f" ({cpus * raw_cpu / both:.2f} with the backends)" if postgresql else "")
        + f"; loadavg {load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in /tmp")
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="default: one per available CPU"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed verify rounds (best counts)")
    parser.add_argument("--skip-appends", action="store_true", help="only proofs and verify")
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="only the verify comparison, on the ledger a previous run left in "
        "--database-url if it holds --entries entries (else it is built)",
    )
    args = parser.parse_args()
    global METER
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        _durable(engine)
        upgrade(engine)
        print(f"store: {engine.dialect.name}; durable commits")
        if engine.dialect.name == "postgresql":
            METER = BackendMeter(Path(tmp) / "backend-cpu")
            METER.install()
        if args.verify_only:
            with engine.connect() as conn:
                kept = StoredTree(conn).size()
            if kept != args.entries:
                with engine.begin() as conn:
                    conn.execute(ledger_nodes.delete())
                    conn.execute(ledger.delete())
                bulk_fill(engine, 0, args.entries, {})
                print(f"built {args.entries:,} entries in bulk")
            bench_verify(engine, args.workers, args.rounds)
            engine.dispose()
            return

        if not args.skip_appends:
            ledger_s, plain_s = bench_appends(engine, args.appends)
            print(
                f"append: {args.appends / ledger_s:,.0f}/s ledger vs "
                f"{args.appends / plain_s:,.0f}/s plain insert -> ratio {plain_s / ledger_s:.2f} "
                f"of plain; loadavg {load()}"
            )
        with engine.begin() as conn:  # the proof and verify trees start empty
            conn.execute(ledger_nodes.delete())
            conn.execute(ledger.delete())

        pending: dict[tuple[int, int], bytes] = {}
        results = {}
        built = 0
        for size in (1000, args.entries):
            start = time.perf_counter()
            bulk_fill(engine, built, size, pending)
            print(
                f"built {size:,} entries in bulk in {time.perf_counter() - start:.1f}s "
                "(rows and complete-subtree nodes computed in Python, executemany)"
            )
            built = size
            times = proof_times(engine, size)
            results[size] = statistics.median(times)
            print(
                f"inclusion proof at {size:>9,}: median {results[size] * 1e3:.3f} ms, "
                f"p95 {sorted(times)[int(len(times) * 0.95)] * 1e3:.3f} ms; loadavg {load()}"
            )
        small, big = results[1000], results[args.entries]
        print(
            f"proof time ratio {args.entries:,} / 1,000 entries: {big / small:.2f} "
            f"(log2 ratio {(args.entries.bit_length()) / (1000).bit_length():.2f}, "
            f"linear ratio {args.entries / 1000:,.0f})"
        )

        bench_verify(engine, args.workers, args.rounds)
        engine.dispose()


if __name__ == "__main__":
    main()
