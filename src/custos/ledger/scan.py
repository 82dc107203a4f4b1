"""Scan one range of the ledger in bulk: the fast path of ``audit verify``.

A range is the rows with ``low_seq <= seq < high_seq`` in ``seq`` order, read
straight from the DB-API driver in blocks of ``2**block_level`` rows (one
``fetchmany`` each: no ORM, no per-row Python code). For every block it checks
that the stored leaf indexes are exactly ``start, start + 1, ...`` and that
every stored leaf hash equals SHA-256(0x00 ‖ entry) recomputed from the stored
bytes, then computes the block's complete subtrees level by level.

The fast path proves or gives up: :func:`scan_rows` returns None as soon as
anything differs from an intact ledger, and the caller then runs the exact
pass (:mod:`custos.ledger.verify`), which names every problem by index. So the
fast path needs no localisation logic of its own, and an intact ledger is
reported exactly as the exact pass would report it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, itemgetter
from typing import Any

from custos.ledger.levels import Nodes, edge, hash_prefixed, levels

#: 4,096 rows per block: one fetch, one level computation (tuned on 200k entries).
BLOCK_LEVEL = 12

# The entry comes back as bytes, never decoded. SQLite (in this process) prepends
# the 0x00 leaf prefix itself; PostgreSQL sends the stored text as it is (its
# binary text format is the UTF-8 bytes) and the 0x00 is prepended here: a
# concatenation (and convert_to) in the query costs the server's backend more
# CPU than the client spends on it (bench/ledger.py measures both). A client
# encoding other than UTF-8 would send other bytes: no leaf hash would match,
# the fast path would give up and the exact pass (convert_to) would run.
_COLUMNS = {
    "sqlite": "leaf_index, leaf_hash, CAST(x'00' || canonical AS BLOB)",
    "postgresql": "leaf_index, leaf_hash, canonical",
}
#: What :func:`scan_rows` must prepend to the entries :func:`range_rows` reads.
LEAF_PREFIX = {"sqlite": b"", "postgresql": b"\x00"}
_PARAM = {"sqlite": "?", "postgresql": "%s"}
_index, _stored, _entry = itemgetter(0), itemgetter(1), itemgetter(2)


@dataclass(frozen=True)
class RangeJob:
    """Rows ``low_seq <= seq < high_seq`` (None: unbounded) must carry leaf
    indexes ``start, start + 1, ...`` up to ``stop`` exclusive (None: wherever
    the ledger ends). ``start`` is a multiple of ``2**block_level``; ``sizes``
    (sorted) are the tree sizes whose roots the caller will compute."""

    start: int
    low_seq: int | None = None
    high_seq: int | None = None
    stop: int | None = None
    sizes: tuple[int, ...] = ()
    block_level: int = BLOCK_LEVEL


@dataclass
class RangeResult:
    """What an intact range contributes: its leaf count, the entry bytes hashed
    (without the prefix), and complete-subtree hashes keyed by global
    ``(level, position)``: the root of every full block (at ``block_level``)
    and, below it, the pieces that end at a wanted size or at the range end."""

    start: int
    count: int
    bytes_hashed: int
    nodes: Nodes = field(default_factory=dict)


def range_sql(dialect: str, job: RangeJob) -> tuple[str, list[int]]:
    """The query and parameters for ``job`` on ``dialect`` (sqlite, postgresql)."""
    mark = _PARAM[dialect]
    where, params = [], []
    if job.low_seq is not None:
        where.append(f"seq >= {mark}")
        params.append(job.low_seq)
    if job.high_seq is not None:
        where.append(f"seq < {mark}")
        params.append(job.high_seq)
    condition = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {_COLUMNS[dialect]} FROM ledger{condition} ORDER BY seq", params  # noqa: S608


def range_rows(dbapi_connection: Any, dialect: str, job: RangeJob) -> Iterator[Sequence[Any]]:
    """The rows of ``job`` in blocks of ``2**job.block_level`` (the last may be
    shorter), through a server-side cursor in binary format on PostgreSQL, where
    the entry is read as the bytes of the stored text, without its prefix
    (:data:`LEAF_PREFIX`)."""
    sql, params = range_sql(dialect, job)
    if dialect == "postgresql":
        from psycopg.types.string import ByteaBinaryLoader  # the driver of this connection

        cursor = dbapi_connection.cursor(name=f"custos_scan_{job.start}", binary=True)
        cursor.adapters.register_loader("text", ByteaBinaryLoader)  # this cursor only
    else:
        cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(1 << job.block_level):
            yield rows
    finally:
        cursor.close()


def scan_rows(
    blocks: Iterable[Sequence[Sequence[Any]]],
    job: RangeJob,
    on_block: Callable[[int], None] | None = None,
    prefix: bytes = b"",
) -> RangeResult | None:
    """Check and hash ``blocks`` of ``(leaf_index, leaf_hash, entry)`` rows for
    ``job``, where ``prefix + entry`` is 0x00 ‖ the entry's canonical bytes;
    None when any row is not exactly what an intact ledger holds there.
    ``on_block`` gets the next leaf index after each block."""
    level, block = job.block_level, 1 << job.block_level
    position, hashed, ended = job.start, 0, False
    nodes: Nodes = {}
    for rows in blocks:
        count = len(rows)
        if ended or count > block:
            return None
        if list(map(_index, rows)) != list(range(position, position + count)):
            return None
        entries = list(map(_entry, rows))
        try:
            if prefix:
                entries = list(map(add, repeat(prefix), entries))
            leaves = hash_prefixed(entries)
            hashed += sum(map(len, entries)) - count
        except TypeError:  # a NULL entry
            return None
        if list(map(_stored, rows)) != leaves:
            return None
        tree = levels(leaves)
        if count == block:
            nodes[(level, position >> level)] = tree[level][0]
        else:
            ended = True
            nodes.update(edge(tree, position, count))
        for size in _inside(job.sizes, position, position + count):
            nodes.update(edge(tree, position, size - position))
        position += count
        if on_block is not None:
            on_block(position)
    if job.stop is not None and position != job.stop:
        return None
    return RangeResult(job.start, position - job.start, hashed, nodes)


def _inside(sizes: tuple[int, ...], low: int, high: int) -> tuple[int, ...]:
    """The sorted ``sizes`` strictly between ``low`` and ``high``."""
    return sizes[bisect_right(sizes, low) : bisect_left(sizes, high)]
