"""The fast verification path on a real store (SQLite file and PostgreSQL):
ranges scanned by forked workers give the roots of the reference tree, and any
tampering, or any worker failure, falls back to the exact pass, so the report
names the same problems as a single-process verification."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from ledger_helpers import fill, rows, set_canonical, signing_key, sql

from conftest import World
from custos.ledger import merkle, parallel, verify
from custos.ledger.heads import sign_tree_head, stored_heads
from custos.ledger.parallel import plan_ranges, scan_ledger
from custos.ledger.tree_store import StoredTree
from custos.ledger.verify import Problem, verify_ledger

ENTRIES = 150
HEADS = (7, 64, 100)


@pytest.fixture
def big(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """150 entries under heads at sizes 7, 64, 100 and 150; blocks of 4 leaves,
    so three workers get ranges of their own."""
    monkeypatch.setattr(parallel, "BLOCK_LEVEL", 2)
    signing_key(world)
    done = 0
    for size in (*HEADS, ENTRIES):
        fill(world, size - done)
        sign_tree_head(world.svc)
        done = size
    return world


def _reference(world: World) -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(r.canonical.encode()) for r in rows(world))


def _verify(world: World, workers: int) -> list[Problem]:
    keys = {signing_key(world).key_id: signing_key(world).public}
    with world.svc.uow() as uow:
        report = verify_ledger(uow.conn, keys, stored_heads(uow.conn), workers=workers)
    assert report.entries >= ENTRIES - 1
    return report.problems


def test_forked_ranges_give_the_roots_of_the_reference_tree(big: World) -> None:
    with big.svc.uow() as uow:
        jobs = plan_ranges(uow.conn, StoredTree(uow.conn).size(), (), 3, 2)
        scan = scan_ledger(uow.conn, (*HEADS, 1, 2, 3, 149, 999), workers=3, block_level=2)
    assert [(j.start, j.stop) for j in jobs] == [(0, 48), (48, 100), (100, None)]
    reference = _reference(big)
    assert scan is not None
    assert (scan.entries, scan.root) == (ENTRIES, reference.root())
    assert scan.roots == {s: reference.root(s) for s in (*HEADS, 1, 2, 3, 149)}
    assert scan.bytes_hashed == sum(len(r.canonical.encode()) for r in rows(big))
    assert _verify(big, workers=3) == []


def test_progress_counts_the_leaves_every_range_scanned(big: World) -> None:
    """The progress bar of ``audit verify`` follows all the processes: the
    workers count their leaves too, so once the first worker is in the parent
    reports at least its own 48 plus that worker's 52 before the final report
    (a count of the caller's range alone would stop at 48); the counts only
    grow, up to the total."""
    seen: list[tuple[int, int]] = []
    with big.svc.uow() as uow:
        scan = scan_ledger(
            uow.conn, (), workers=3, block_level=2, progress=lambda *a: seen.append(a)
        )
    assert scan is not None and scan.entries == ENTRIES
    assert seen[-1] == (ENTRIES, ENTRIES)
    assert all(total == ENTRIES and 0 < done <= ENTRIES for done, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert len([done for done, _ in seen[:-1] if done >= 100]) >= 2


Tamper = Callable[[World], None]


def _change(index: int) -> Tamper:
    def tamper(world: World) -> None:
        target = rows(world)[index]
        set_canonical(world, target.seq, target.canonical.replace('"n":', '"n":1'))

    return tamper


def _remove(index: int) -> Tamper:
    def tamper(world: World) -> None:
        sql(world, "DELETE FROM ledger WHERE seq = :seq", seq=rows(world)[index].seq)

    return tamper


def _swap(a: int, b: int) -> Tamper:
    def tamper(world: World) -> None:
        first, second = rows(world)[a], rows(world)[b]
        set_canonical(world, first.seq, second.canonical)
        set_canonical(world, second.seq, first.canonical)

    return tamper


def _renumber_cut(world: World) -> None:
    """The row claiming the first cut index is renumbered: the cut hint lies
    (the entries, hence the roots, are untouched)."""
    sql(world, "UPDATE ledger SET leaf_index = 1000 WHERE leaf_index = 48")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_change(120), ("changed", 120)),
        (_change(60), ("changed", 60)),
        (_remove(75), ("removed", 75)),
        (_swap(10, 110), ("reordered", 10)),
        (_renumber_cut, ("removed", 48)),
    ],
    ids=["changed-last-range", "changed-middle-range", "removed", "swapped", "cut-renumbered"],
)
def test_tampering_anywhere_is_reported_as_by_a_single_process(
    big: World, tamper: Tamper, expected: tuple[str, int]
) -> None:
    tamper(big)
    problems = _verify(big, workers=3)
    assert problems == _verify(big, workers=1)
    assert expected in [(p.kind, p.index) for p in problems]
    renumbered = tamper is _renumber_cut
    assert any(p.kind == "head_mismatch" for p in problems) is not renumbered


#: Ranges (0, 48), (48, 100), (100, 150) with blocks of 4: 150 ends in a partial
#: block (148, 149). Every range's first and last entry, one inside each range,
#: and the whole partial block.
EDGES = (0, 5, 47, 48, 60, 99, 100, 120, 147, 148, 149)


@pytest.mark.parametrize("index", EDGES)
def test_a_changed_entry_in_any_range_or_at_its_edge_is_named(big: World, index: int) -> None:
    """R-38: a changed entry in each parallel range, at each range's first and
    last index and in the last partial block, is named by index and seq, as a
    single process names it, and the head covering it no longer verifies."""
    with big.svc.uow() as uow:
        jobs = plan_ranges(uow.conn, StoredTree(uow.conn).size(), (), 3, 2)
    assert [(j.start, j.stop) for j in jobs] == [(0, 48), (48, 100), (100, None)]
    seq = rows(big)[index].seq
    _change(index)(big)
    problems = _verify(big, workers=3)
    assert problems == _verify(big, workers=1)
    named = [p for p in problems if p.index is not None]
    assert [(p.kind, p.index, p.seq) for p in named] == [("changed", index, seq)]
    assert f"entry index {index} (seq {seq}) was changed" in named[0].message
    covering = [size for size in (*HEADS, ENTRIES) if size > index]
    mismatched = [p.message for p in problems if p.kind == "head_mismatch"]
    assert len(mismatched) == len(covering)
    assert all(any(f"at size {size} " in m for m in mismatched) for size in covering)


@pytest.mark.parametrize("index", (47, 48, 99, 100, 149))
def test_a_removed_entry_at_a_range_edge_is_named(big: World, index: int) -> None:
    """R-38: deleting the last or first row of a range (a cut row, or the very
    last entry) is named as the removed index, as a single process names it."""
    seq = rows(big)[index].seq
    _remove(index)(big)
    problems = _verify(big, workers=3)
    assert problems == _verify(big, workers=1)
    if index == ENTRIES - 1:  # nothing follows: the newest head proves the truncation
        assert ("truncated", index) in [(p.kind, p.index) for p in problems]
    else:
        assert ("removed", index, rows(big)[index].seq) in [
            (p.kind, p.index, p.seq) for p in problems
        ]
        assert seq not in [r.seq for r in rows(big)]


def test_a_failed_or_dead_worker_falls_back_to_the_exact_pass(
    big: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact_passes = []
    exact = verify._exact_scan

    def counted(*args: object, **kwargs: object) -> object:
        exact_passes.append(1)
        return exact(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify, "_exact_scan", counted)
    assert _verify(big, workers=3) == [] and exact_passes == []
    monkeypatch.setattr(parallel, "_scan_own", lambda *_: "OperationalError: no such table")
    assert _verify(big, workers=3) == [] and exact_passes == [1]
    monkeypatch.setattr(parallel, "_scan_own", lambda *_: os._exit(3))
    assert _verify(big, workers=3) == [] and exact_passes == [1, 1]
