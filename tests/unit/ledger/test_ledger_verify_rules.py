"""The rules ``audit verify`` applies to what it recomputed
(``custos.ledger.verify``): each head checked against the key ring and the
recomputed roots, each out-of-order row named as inserted or removed, each
changed leaf named as changed or reordered, and the compact range folded into
the RFC 9162 root (R-38: tampering is detected and named)."""

from __future__ import annotations

from ledger_tables import KEY, KEYS, NOW, NewLedger, new_key, new_ledger

from custos.ledger import merkle
from custos.ledger.signing import TreeHead, sign_head
from custos.ledger.verify import (
    Problem,
    VerificationReport,
    _changed,
    _check_head,
    _fold,
    _order_problem,
    verify_ledger,
)
from custos.store.tables import ledger

__all__ = ["new_ledger"]  # the fixture

LEAVES = [merkle.leaf_hash(b'{"n":%d}' % n) for n in range(9)]
TREE = merkle.MemoryTree(LEAVES)


ROOTS = {size: TREE.root(size) for size in (3, 9)}


def _head(size: int, root: bytes | None = None) -> TreeHead:
    return sign_head(KEY, size, TREE.root(size) if root is None else root, NOW)


def test_problem_and_report_json() -> None:
    problem = Problem("changed", "entry index 2 (seq 3) was changed", 2, 3)
    assert problem.to_json() == {
        "kind": "changed",
        "message": "entry index 2 (seq 3) was changed",
        "index": 2,
        "seq": 3,
    }
    assert Problem("x", "y").to_json() == {"kind": "x", "message": "y", "index": None, "seq": None}
    report = VerificationReport(entries=9, root_hash="ab", heads_checked=2, witnessed_checked=1)
    assert report.ok
    assert report.to_json() == {
        "ok": True,
        "entries": 9,
        "root_hash": "ab",
        "heads_checked": 2,
        "witnessed_checked": 1,
        "problems": [],
    }
    report.problems.append(problem)
    assert not report.ok
    assert report.to_json()["ok"] is False
    assert report.to_json()["problems"] == [problem.to_json()]
    assert VerificationReport().to_json() == {
        "ok": True,
        "entries": 0,
        "root_hash": "",
        "heads_checked": 0,
        "witnessed_checked": 0,
        "problems": [],
    }
    assert VerificationReport().bytes_hashed == 0


def test_a_sound_head_has_no_problem() -> None:
    assert _check_head(_head(3), KEYS, ROOTS, 9, "signed head") == []
    assert _check_head(_head(9), KEYS, ROOTS, 9, "signed head") == []


def test_a_head_by_a_key_outside_the_ring_is_named() -> None:
    other = new_key()
    head = sign_head(other, 3, TREE.root(3), NOW)
    assert _check_head(head, KEYS, ROOTS, 9, "witnessed head") == [
        Problem(
            "unknown_key",
            f"witnessed head at size 3 ({head.signed_at}): key {other.key_id} is not in the ring",
        )
    ]


def test_a_head_whose_signature_fails_is_named() -> None:
    good = _head(3)
    forged = TreeHead(3, "00" * 32, good.signed_at, good.key_id, good.signature)
    problems = _check_head(forged, KEYS, ROOTS, 9, "signed head")
    assert problems[0] == Problem(
        "bad_signature", f"signed head at size 3 ({good.signed_at}): the signature does not verify"
    )
    # the root it names also differs from the recomputed one
    assert [p.kind for p in problems] == ["bad_signature", "head_mismatch"]


def test_a_head_naming_another_root_is_a_mismatch() -> None:
    """R-38: a validly signed head whose root the recomputed tree does not have."""
    head = _head(3, root=TREE.root(4))
    assert _check_head(head, KEYS, ROOTS, 9, "signed head") == [
        Problem(
            "head_mismatch",
            f"signed head at size 3 ({head.signed_at}): "
            "the recomputed root differs from the signed root",
        )
    ]


def test_a_head_at_a_size_without_a_recomputed_root_is_not_compared() -> None:
    head = _head(5, root=bytes(32))
    assert _check_head(head, KEYS, ROOTS, 9, "signed head") == []


def test_a_head_bigger_than_the_ledger_proves_a_truncation() -> None:
    head = _head(9)
    assert _check_head(head, KEYS, {3: TREE.root(3)}, 7, "witnessed head") == [
        Problem(
            "truncated",
            f"witnessed head at size 9 ({head.signed_at}): the ledger has 7 entries; "
            "entries index 7..8 were removed",
            7,
        )
    ]
    # a head of exactly the ledger's size is not a truncation
    assert _check_head(_head(9), KEYS, ROOTS, 9, "signed head") == []


def test_an_unknown_key_and_a_truncation_are_both_named() -> None:
    other = new_key()
    head = sign_head(other, 9, TREE.root(9), NOW)
    assert [p.kind for p in _check_head(head, KEYS, {}, 8, "signed head")] == [
        "unknown_key",
        "truncated",
    ]


def test_a_row_with_an_earlier_or_no_index_was_inserted() -> None:
    report = VerificationReport()
    assert _order_problem(report, 12, 3, 5, 5) == 5
    assert _order_problem(report, 13, None, 5, 6) == 5
    assert report.problems == [
        Problem("inserted", "entry seq 12 was inserted at index 5", 5, 12),
        Problem("inserted", "entry seq 13 was inserted at index 6", 6, 13),
    ]


def test_a_row_with_a_later_index_follows_removed_entries() -> None:
    report = VerificationReport()
    assert _order_problem(report, 20, 6, 5, 5) == 7
    assert _order_problem(report, 30, 10, 7, 6) == 11
    assert report.problems == [
        Problem("removed", "entry index 5 was removed (before seq 20)", 5, 20),
        Problem("removed", "entry index 7..9 was removed (before seq 30)", 7, 30),
    ]


def test_a_changed_leaf_is_changed_and_a_moved_one_reordered() -> None:
    a, b, c = LEAVES[0], LEAVES[1], LEAVES[2]
    # rows 3 and 7 swapped their entries: each recomputed leaf is the other's record
    swapped = [(3, 40, b, a), (7, 80, a, b)]
    assert _changed(swapped) == [
        Problem("reordered", "entry index 3 (seq 40) holds the entry appended at index 7", 3, 40),
        Problem("reordered", "entry index 7 (seq 80) holds the entry appended at index 3", 7, 80),
    ]
    assert _changed([(4, 50, c, a)]) == [
        Problem("changed", "entry index 4 (seq 50) was changed", 4, 50)
    ]
    # a leaf equal to its own row's record (only the stored bytes differ) is changed
    assert _changed([(4, 50, a, a)])[0].kind == "changed"
    assert _changed([]) == []


def test_the_compact_range_folds_into_the_tree_root() -> None:
    assert _fold([]) == merkle.EMPTY_ROOT
    assert _fold([LEAVES[0]]) == TREE.root(1)
    for size in range(1, 10):
        compact = merkle.CompactRange()
        for leaf in LEAVES[:size]:
            compact.append(leaf)
        # the stack of the exact pass: roots of the set bits of size, largest first
        stack, start = [], 0
        for bit in reversed(range(size.bit_length())):
            if size >> bit & 1:
                stack.append(merkle.range_hash(start, start + (1 << bit), TREE))
                start += 1 << bit
        assert _fold(stack) == TREE.root(size) == compact.root(), size


# verify_ledger over the ledger tables alone, on SQLite and PostgreSQL
# (ledger_tables.py). The same checks with the store's own appends are in
# tests/integration/ledger/test_audit_verify.py.


def test_verify_an_intact_ledger(new_ledger: NewLedger) -> None:
    book = new_ledger(11)
    witnessed = book.head(11)
    report = verify_ledger(book.conn, KEYS, [book.head(4), witnessed], [witnessed])
    assert report.problems == []
    assert report.ok
    assert report.entries == 11
    assert report.root_hash == book.tree.root(11).hex()
    assert (report.heads_checked, report.witnessed_checked) == (2, 1)
    assert report.bytes_hashed == sum(map(len, book.entries))


def test_verify_names_a_changed_entry_by_index_and_seq(new_ledger: NewLedger) -> None:
    book = new_ledger(11)
    book.set(5, canonical='{"n":"x"}')
    seen: list[tuple[int, int]] = []
    report = verify_ledger(
        book.conn, KEYS, [book.head(11)], total=20, progress=lambda d, t: seen.append((d, t))
    )
    assert [(p.kind, p.index, p.seq) for p in report.problems] == [
        ("changed", 4, 5),
        ("head_mismatch", None, None),
    ]
    assert report.entries == 11
    assert report.bytes_hashed == sum(map(len, book.entries)) - len(b'{"n":4}') + 9
    assert seen[-1] == (11, 20)


def test_verify_names_swapped_entries_as_reordered(new_ledger: NewLedger) -> None:
    book = new_ledger(8)
    book.set(3, canonical=book.entries[6].decode())
    book.set(7, canonical=book.entries[2].decode())
    report = verify_ledger(book.conn, KEYS, [book.head(8)])
    assert [(p.kind, p.index, p.seq) for p in report.problems][:2] == [
        ("reordered", 2, 3),
        ("reordered", 6, 7),
    ]


def test_verify_names_removed_and_inserted_rows(new_ledger: NewLedger) -> None:
    book = new_ledger(9)
    book.conn.execute(ledger.delete().where(ledger.c.seq.in_([4, 5])))
    report = verify_ledger(book.conn, KEYS, [])
    assert [(p.kind, p.index, p.seq) for p in report.problems] == [("removed", 3, 6)]
    assert report.problems[0].message == "entry index 3..4 was removed (before seq 6)"
    assert report.entries == 7
    moved = new_ledger(4)
    moved.set(1, seq=100)  # the first entry now comes last in seq order
    found = verify_ledger(moved.conn, KEYS, [])
    assert [(p.kind, p.index, p.seq) for p in found.problems] == [
        ("removed", 0, 2),
        ("inserted", 3, 100),
    ]


def test_verify_names_a_truncation_and_a_head_missing_from_the_table(new_ledger: NewLedger) -> None:
    book = new_ledger(9)
    gone = book.head(9)
    book.conn.execute(ledger.delete().where(ledger.c.seq == 9))
    report = verify_ledger(book.conn, KEYS, [book.head(4)], [gone])
    kinds = [p.kind for p in report.problems]
    assert kinds[:2] == ["truncated", "head_missing"]
    assert report.problems[1].message == ("the witnessed head at size 9 is missing from tree_heads")
    assert report.witnessed_checked == 1 and report.heads_checked == 1


def test_verify_localizes_rows_rewritten_with_fresh_leaf_hashes(new_ledger: NewLedger) -> None:
    """Rows rewritten with matching leaf hashes look intact row by row; the
    recorded pair hashes name where they diverge."""
    book = new_ledger(8)
    forged = b'{"n":"forged"}'
    book.set(6, canonical=forged.decode(), leaf_hash=merkle.leaf_hash(forged))
    report = verify_ledger(book.conn, KEYS, [book.head(8)])
    assert [(p.kind, p.index, p.seq) for p in report.problems] == [
        ("head_mismatch", None, None),
        ("changed", 4, 5),
    ]
    assert report.problems[1].message == "entry index 4 or 5 was rewritten"
    intact_pairs = new_ledger(8)
    assert verify_ledger(intact_pairs.conn, KEYS, [intact_pairs.head(8)]).ok


def test_the_exact_pass_recomputes_the_root_at_every_head_size(new_ledger: NewLedger) -> None:
    """Once a row is changed the exact pass takes over; heads of the tree before
    the change still match, every later one is named."""
    book = new_ledger(13)
    book.set(11, canonical='{"n":"x"}')  # index 10
    sizes = range(1, 14)
    report = verify_ledger(book.conn, KEYS, [book.head(n) for n in sizes])
    assert [(p.kind, p.index) for p in report.problems] == [
        ("changed", 10),
        ("head_mismatch", None),
        ("head_mismatch", None),
        ("head_mismatch", None),
    ]
    assert [p.message.split(" (")[0] for p in report.problems[1:]] == [
        "signed head at size 11",
        "signed head at size 12",
        "signed head at size 13",
    ]
    changed = [*book.entries[:10], b'{"n":"x"}', *book.entries[11:]]
    assert report.root_hash == merkle.MemoryTree(map(merkle.leaf_hash, changed)).root().hex()
    assert report.entries == 13


def test_verify_names_the_heads_it_checks_by_origin(new_ledger: NewLedger) -> None:
    book = new_ledger(6)
    book.conn.execute(ledger.delete().where(ledger.c.seq == 6))
    head = book.head(6)
    report = verify_ledger(book.conn, KEYS, [head], [head])
    assert [p.message for p in report.problems if p.kind == "truncated"] == [
        f"signed head at size 6 ({head.signed_at}): the ledger has 5 entries; "
        "entries index 5..5 were removed",
        f"witnessed head at size 6 ({head.signed_at}): the ledger has 5 entries; "
        "entries index 5..5 were removed",
    ]


def test_verify_reports_progress_on_the_fast_path(new_ledger: NewLedger) -> None:
    book = new_ledger(11)
    seen: list[tuple[int, int]] = []
    report = verify_ledger(book.conn, KEYS, [], progress=lambda d, t: seen.append((d, t)))
    assert report.ok
    assert seen and seen[-1] == (11, 11)


def test_verify_localizes_a_rewrite_at_the_end_with_no_seq(new_ledger: NewLedger) -> None:
    """The last row removed and the one before it rewritten with a fresh leaf
    hash: the recorded pair names the removal from the first missing index on."""
    book = new_ledger(8)
    head = book.head(7)
    book.conn.execute(ledger.delete().where(ledger.c.seq == 8))
    forged = b'{"n":"forged"}'
    book.set(7, canonical=forged.decode(), leaf_hash=merkle.leaf_hash(forged))
    report = verify_ledger(book.conn, KEYS, [head])
    assert [(p.kind, p.index, p.seq) for p in report.problems] == [
        ("head_mismatch", None, None),
        ("removed", 7, None),
    ]
    assert report.problems[1].message == "entries from index 7 on were removed"


def test_verify_localizes_in_seq_order_whatever_the_storage_order(
    new_ledger: NewLedger,
) -> None:
    """Rows updated after they were written sit elsewhere on disk (PostgreSQL
    moves an updated row): localization still reads them in seq order."""
    book = new_ledger(8)
    for row in (1, 2, 3):  # touch the first rows so that they move
        book.set(row, actor="b")
    forged = b'{"n":"forged"}'
    book.set(6, canonical=forged.decode(), leaf_hash=merkle.leaf_hash(forged))
    report = verify_ledger(book.conn, KEYS, [book.head(8)])
    assert [(p.kind, p.index, p.seq) for p in report.problems] == [
        ("head_mismatch", None, None),
        ("changed", 4, 5),
    ]


def test_verify_counts_every_witnessed_head(new_ledger: NewLedger) -> None:
    book = new_ledger(6)
    heads = [book.head(n) for n in (2, 4, 6)]
    report = verify_ledger(book.conn, KEYS, heads, heads)
    assert report.ok, report.problems
    assert (report.heads_checked, report.witnessed_checked) == (3, 3)


def test_verify_names_removed_rows_once_when_a_head_also_differs(new_ledger: NewLedger) -> None:
    """R-38: rows removed from the middle are named by the entry-level pass; the
    head that no longer matches is named too, and localization (which would
    read the shifted leaves as rewritten pairs) is not consulted, so the
    removal is not reported a second time as a rewrite."""
    book = new_ledger(9)
    head = book.head(9)
    book.conn.execute(ledger.delete().where(ledger.c.seq.in_([4, 5])))
    report = verify_ledger(book.conn, KEYS, [head])
    kinds = [(p.kind, p.index, p.seq) for p in report.problems]
    assert ("removed", 3, 6) in kinds
    assert [k for k in kinds if k[0] in ("changed", "reordered")] == []
    assert not report.ok
