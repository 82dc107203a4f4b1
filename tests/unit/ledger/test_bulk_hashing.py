"""The bulk hashing of the fast verification path (``levels``, ``scan_rows``)
gives exactly the RFC 9162 hashes of ``merkle``, and gives up (None) on any
row an intact ledger would not hold."""

from __future__ import annotations

from typing import Any

import pytest

from custos.ledger import merkle
from custos.ledger.levels import Subtrees, edge, hash_prefixed, levels
from custos.ledger.scan import RangeJob, RangeResult, range_sql, scan_rows


def _entries(count: int) -> list[bytes]:
    return [b'{"n":%d,"pad":"%s"}' % (n, b"x" * (n % 7)) for n in range(count)]


def _rows(entries: list[bytes], start: int = 0) -> list[tuple[int, bytes, bytes]]:
    return [(start + i, merkle.leaf_hash(e), b"\x00" + e) for i, e in enumerate(entries)]


def _blocks(rows: list[Any], block_level: int) -> list[list[Any]]:
    size = 1 << block_level
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def test_hash_prefixed_and_levels_match_the_reference_tree() -> None:
    entries = _entries(37)
    leaves = hash_prefixed(b"\x00" + e for e in entries)
    assert leaves == [merkle.leaf_hash(e) for e in entries]
    reference = merkle.MemoryTree(leaves)
    tree = levels(leaves)
    for level, hashes in enumerate(tree):
        assert hashes == [reference(level, i) for i in range(37 >> level)]


@pytest.mark.parametrize("cut", range(1, 17))
def test_edge_nodes_give_the_root_of_every_prefix_of_a_block(cut: int) -> None:
    leaves = [merkle.leaf_hash(e) for e in _entries(16)]
    nodes = edge(levels(leaves[:16]), 32, cut)  # a block starting at leaf 32
    assert all((position << level) >= 32 for level, position in nodes)
    shifted = merkle.MemoryTree([bytes(32)] * 32 + leaves)
    tree = Subtrees(4, nodes)
    assert merkle.range_hash(32, 32 + cut, tree) == merkle.range_hash(32, 32 + cut, shifted)


def test_subtrees_combine_block_roots_above_the_block_level() -> None:
    leaves = [merkle.leaf_hash(e) for e in _entries(40)]
    reference = merkle.MemoryTree(leaves)
    blocks = {(3, b): reference(3, b) for b in range(5)}
    tree = Subtrees(3, blocks)
    assert merkle.root(32, tree) == reference.root(32)
    assert tree(5, 0) == reference(5, 0)
    with pytest.raises(LookupError):
        merkle.root(33, tree)  # leaf 32 alone was never given


@pytest.mark.parametrize("count", [1, 2, 3, 8, 9, 31, 32, 33, 100])
def test_scan_rows_recomputes_every_wanted_root(count: int) -> None:
    entries = _entries(count)
    sizes = tuple(range(1, count + 1))
    result = scan_rows(_blocks(_rows(entries), 3), RangeJob(0, sizes=sizes, block_level=3))
    assert isinstance(result, RangeResult)
    assert (result.start, result.count) == (0, count)
    assert result.bytes_hashed == sum(map(len, entries))
    reference = merkle.MemoryTree(merkle.leaf_hash(e) for e in entries)
    tree = Subtrees(3, result.nodes)
    for size in sizes:
        assert merkle.root(size, tree) == reference.root(size)


def test_scan_rows_prepends_the_prefix_the_store_left_out() -> None:
    """PostgreSQL sends each entry as stored: the scan prepends the 0x00 leaf
    prefix itself and hashes exactly what a store that sent it would have."""
    entries = _entries(20)
    job = RangeJob(0, sizes=(5, 20), block_level=3)
    plain: list[tuple[int, bytes, bytes | None]] = [
        (i, leaf, entry[1:]) for i, leaf, entry in _rows(entries)
    ]
    result = scan_rows(_blocks(plain, 3), job, None, b"\x00")
    assert result == scan_rows(_blocks(_rows(entries), 3), job)
    assert result is not None and result.bytes_hashed == sum(map(len, entries))
    assert scan_rows(_blocks(plain, 3), job) is None  # unprefixed: no leaf hash matches
    plain[5] = (5, plain[5][1], None)  # a NULL entry
    assert scan_rows(_blocks(plain, 3), job, None, b"\x00") is None


def test_a_range_after_a_cut_starts_at_its_own_leaf_index() -> None:
    entries = _entries(40)
    first = scan_rows(_blocks(_rows(entries[:16]), 3), RangeJob(0, stop=16, block_level=3))
    rest = scan_rows(_blocks(_rows(entries[16:], 16), 3), RangeJob(16, block_level=3))
    assert first is not None and rest is not None
    assert (rest.start, rest.count) == (16, 24)
    tree = Subtrees(3, {**first.nodes, **rest.nodes})
    assert merkle.root(40, tree) == merkle.MemoryTree(map(merkle.leaf_hash, entries)).root()


def _tampered(kind: str) -> list[tuple[Any, Any, Any]]:
    rows: list[tuple[Any, Any, Any]] = list(_rows(_entries(20)))
    if kind == "changed":
        rows[5] = (5, rows[5][1], b"\x00{}")
    elif kind == "stale_leaf":
        rows[5] = (5, merkle.leaf_hash(b"{}"), rows[5][2])
    elif kind == "null_leaf":
        rows[5] = (5, None, rows[5][2])
    elif kind == "null_entry":
        rows[5] = (5, rows[5][1], None)
    elif kind == "removed":
        del rows[5]
    elif kind == "inserted":
        rows.insert(5, (5, merkle.leaf_hash(b"{}"), b"\x00{}"))
    elif kind == "swapped":
        rows[3], rows[9] = (3, rows[3][1], rows[9][2]), (9, rows[9][1], rows[3][2])
    elif kind == "renumbered":
        rows[5] = (50, *rows[5][1:])
    return rows


@pytest.mark.parametrize(
    "kind",
    [
        "changed",
        "stale_leaf",
        "null_leaf",
        "null_entry",
        "removed",
        "inserted",
        "swapped",
        "renumbered",
    ],
)
def test_scan_rows_gives_up_on_any_row_an_intact_ledger_would_not_hold(kind: str) -> None:
    assert scan_rows(_blocks(_tampered(kind), 3), RangeJob(0, block_level=3)) is None


def test_scan_rows_gives_up_when_a_range_ends_short_or_long() -> None:
    rows = _rows(_entries(24))
    assert scan_rows(_blocks(rows, 3), RangeJob(0, stop=32, block_level=3)) is None
    assert scan_rows(_blocks(rows, 3), RangeJob(0, stop=16, block_level=3)) is None
    assert scan_rows(_blocks(rows, 3), RangeJob(0, stop=24, block_level=3)) is not None


def test_scan_rows_gives_up_on_blocks_it_did_not_ask_for() -> None:
    rows = _rows(_entries(24))
    short_then_more = [rows[:5], rows[5:13]]
    assert scan_rows(short_then_more, RangeJob(0, block_level=3)) is None
    assert scan_rows([rows[:16]], RangeJob(0, block_level=3)) is None


def test_range_sql_bounds_by_seq_in_the_driver_paramstyle() -> None:
    job = RangeJob(4096, low_seq=10, high_seq=20)
    sqlite_sql, params = range_sql("sqlite", job)
    assert "WHERE seq >= ? AND seq < ?" in sqlite_sql and params == [10, 20]
    assert sqlite_sql.endswith("ORDER BY seq")
    pg_sql, _ = range_sql("postgresql", RangeJob(0, high_seq=20))
    assert "WHERE seq < %s" in pg_sql
    # PostgreSQL sends the stored text as it is: no concatenation or conversion costs its backend
    assert pg_sql.startswith("SELECT leaf_index, leaf_hash, canonical FROM ledger")


def test_levels_stop_at_the_single_root_of_a_power_of_two() -> None:
    leaves = [merkle.leaf_hash(e) for e in _entries(8)]
    tree = levels(leaves)
    assert [len(level) for level in tree] == [8, 4, 2, 1]
    assert tree[-1] == [merkle.MemoryTree(leaves).root()]
    assert [len(level) for level in levels(leaves[:6])] == [6, 3, 1]
    assert levels([]) == [[]]
    assert levels(leaves[:1]) == [leaves[:1]]


def test_subtrees_remember_what_they_combine_and_name_what_is_missing() -> None:
    leaves = [merkle.leaf_hash(e) for e in _entries(32)]
    reference = merkle.MemoryTree(leaves)
    tree = Subtrees(3, {(3, b): reference(3, b) for b in range(4)})
    assert tree(5, 0) == reference(5, 0)
    assert tree.nodes[(5, 0)] == reference(5, 0)
    assert tree.nodes[(4, 1)] == reference(4, 1)
    missing = Subtrees(3, {(3, 0): reference(3, 0)})
    with pytest.raises(LookupError) as caught:
        missing(3, 1)  # a node at the block level is never combined
    assert str(caught.value) == "no subtree hash at (level 3, position 1)"
    with pytest.raises(LookupError) as caught:
        missing(4, 0)
    assert str(caught.value) == "no subtree hash at (level 3, position 1)"
