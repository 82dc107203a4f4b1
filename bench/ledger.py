"""Benchmark: the tamper-evident ledger on the embedded default (SQLite, WAL,
``synchronous=FULL`` so every commit is durable), or on PostgreSQL with
``--database-url``.

1. Append rate: one event per transaction through ``LedgerRepository.append``
   (leaf hash, subtree nodes, serialisation) against a plain insert of the same
   rows into a table without the tree, in the same store.
2. ``audit verify`` throughput (recompute every leaf hash and the tree from the
   store) against raw ``hashlib.sha256`` over the same entry bytes in memory,
   in the same run. Target: at least 0.5 of raw.
3. Inclusion-proof time at 1,000 and at 1,000,000 entries. Target: logarithmic
   growth. The big tree is built directly in bulk (leaf rows and node rows
   computed in Python and inserted with executemany, the same hashes append
   would write), since a million single appends would take long for nothing.

    uv run python bench/ledger.py                  # 1,000,000 entries
    uv run python bench/ledger.py --entries 100000 # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import random
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
from custos.ledger.merkle import completed_nodes, leaf_hash
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


def bench_verify(engine: Engine) -> tuple[float, float, int, int]:
    """(verify seconds, raw sha256 seconds, entries, bytes)."""
    with engine.connect() as conn:
        start = time.perf_counter()
        report = verify_ledger(conn, {}, [])
        verify_s = time.perf_counter() - start
        assert report.ok, report.problems[:3]
        blobs = [
            r[0].encode()
            for r in conn.execute(ledger.select().with_only_columns(ledger.c.canonical))
        ]
    sha256 = hashlib.sha256
    start = time.perf_counter()
    for blob in blobs:
        sha256(blob).digest()
    raw_s = time.perf_counter() - start
    return verify_s, raw_s, report.entries, report.bytes_hashed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in /tmp")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        _durable(engine)
        upgrade(engine)
        print(f"store: {engine.dialect.name}; durable commits")

        ledger_s, plain_s = bench_appends(engine, args.appends)
        print(
            f"append: {args.appends / ledger_s:,.0f}/s ledger vs {args.appends / plain_s:,.0f}/s "
            f"plain insert -> ratio {plain_s / ledger_s:.2f} of plain"
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
                f"p95 {sorted(times)[int(len(times) * 0.95)] * 1e3:.3f} ms"
            )
        small, big = results[1000], results[args.entries]
        print(
            f"proof time ratio {args.entries:,} / 1,000 entries: {big / small:.2f} "
            f"(log2 ratio {(args.entries.bit_length()) / (1000).bit_length():.2f}, "
            f"linear ratio {args.entries / 1000:,.0f})"
        )

        verify_s, raw_s, entries, size_bytes = bench_verify(engine)
        print(
            f"audit verify: {entries:,} entries, {size_bytes / 1e6:.1f} MB in {verify_s:.2f}s "
            f"({size_bytes / verify_s / 1e6:.1f} MB/s) vs raw sha256 {raw_s:.2f}s "
            f"({size_bytes / raw_s / 1e6:.1f} MB/s) -> {raw_s / verify_s:.2f} of raw (target 0.5)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
