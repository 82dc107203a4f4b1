"""How ``scan.range_rows`` reads one range of the ledger straight from the
DB-API driver, on SQLite and PostgreSQL: only the rows of the range, in seq
order, in blocks of ``2**block_level``; on PostgreSQL through a named
server-side cursor, so that a range of millions of rows is streamed and never
held whole in memory (R-38: ``audit verify`` at any ledger size)."""

from __future__ import annotations

from typing import Any

from ledger_tables import NewLedger, new_ledger
from sqlalchemy import Connection

from custos.ledger import merkle
from custos.ledger.parallel import Scan, scan_ledger
from custos.ledger.scan import LEAF_PREFIX, RangeJob, range_rows
from custos.ledger.verify import verify_ledger

__all__ = ["new_ledger"]  # the fixture


def _driver(conn: Connection) -> tuple[Any, str]:
    return conn.connection.dbapi_connection, conn.dialect.name


def test_range_rows_reads_the_bounded_range_in_blocks(new_ledger: NewLedger) -> None:
    book = new_ledger(12)
    dbapi, dialect = _driver(book.conn)
    # seq 3..9 are leaf indexes 2..8, in blocks of 2**1
    # prefixed with what the scan prepends: SQLite's come as 0x00 ‖ entry, PostgreSQL's as stored
    blocks = [
        [(int(i), bytes(h), LEAF_PREFIX[dialect] + bytes(e)) for i, h, e in block]
        for block in range_rows(dbapi, dialect, RangeJob(2, low_seq=3, high_seq=10, block_level=1))
    ]
    assert [len(b) for b in blocks] == [2, 2, 2, 1]
    rows = [row for block in blocks for row in block]
    assert rows == [
        (index, merkle.leaf_hash(book.entries[index]), b"\x00" + book.entries[index])
        for index in range(2, 9)
    ]
    assert LEAF_PREFIX == {"sqlite": b"", "postgresql": b"\x00"}
    whole = list(range_rows(dbapi, dialect, RangeJob(0, block_level=3)))
    assert [len(b) for b in whole] == [8, 4]
    above = list(range_rows(dbapi, dialect, RangeJob(8, low_seq=9, block_level=2)))
    assert [[int(r[0]) for r in b] for b in above] == [[8, 9, 10, 11]]


def test_range_rows_streams_through_a_server_side_cursor_on_postgresql(
    new_ledger: NewLedger,
) -> None:
    book = new_ledger(6)
    dbapi, dialect = _driver(book.conn)
    rows = range_rows(dbapi, dialect, RangeJob(4, low_seq=5, block_level=1))
    first = next(rows)
    assert [int(r[0]) for r in first] == [4, 5]
    if dialect == "postgresql":
        with dbapi.cursor() as probe:
            probe.execute("SELECT name FROM pg_cursors")
            assert [name for (name,) in probe.fetchall()] == ["custos_scan_4"]
    assert list(rows) == []
    if dialect == "postgresql":
        with dbapi.cursor() as probe:
            probe.execute("SELECT count(*) FROM pg_cursors")
            assert probe.fetchone() == (0,)  # closed once the range is read


def test_the_fast_path_proves_entries_beyond_ascii_and_gives_up_on_one_changed_byte(
    new_ledger: NewLedger,
) -> None:
    """R-38: entries hold any Unicode; the fast path hashes exactly their
    stored UTF-8 bytes (PostgreSQL sends the text as it is, the scan prepends
    the leaf prefix), so an intact ledger is proved by it alone, with the
    roots of the reference tree; one changed byte makes it give up, and the
    exact pass names the entry by index."""
    book = new_ledger(12)
    entries = [*book.entries]
    for index in (0, 5, 11):  # the first entry, one inside, the last
        entries[index] = '{"actor":"Zoë Ångström 日本","n":%d}'.encode() % index
        book.set(
            index + 1, canonical=entries[index].decode(), leaf_hash=merkle.leaf_hash(entries[index])
        )
    reference = merkle.MemoryTree(map(merkle.leaf_hash, entries))
    scan = scan_ledger(book.conn, (5, 12), block_level=2)
    assert scan == Scan(
        12, sum(map(len, entries)), reference.root(), {5: reference.root(5), 12: reference.root(12)}
    )
    assert verify_ledger(book.conn, {}, []).problems == []
    book.set(6, canonical=entries[5].decode().replace("Zoë", "Zoé"))  # one character, same length
    assert scan_ledger(book.conn, (5, 12), block_level=2) is None
    report = verify_ledger(book.conn, {}, [])
    assert [(p.kind, p.index, p.seq) for p in report.problems] == [("changed", 5, 6)]
