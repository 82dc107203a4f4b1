"""The Merkle tree as the store holds it (``tree_store.StoredTree``) and the
stored signed heads (``heads``), read from the ledger tables on SQLite and
PostgreSQL: roots and proofs equal the in-memory RFC 9162 tree's, and the
newest head is picked by size, then by signing order (R-38)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_tables import KEY, NOW, NewLedger, new_ledger
from sqlalchemy import func, select

from custos.ledger import merkle
from custos.ledger.heads import head_at, latest_head, parse_time, stored_heads
from custos.ledger.signing import sign_head
from custos.ledger.tree_store import StoredTree
from custos.store.tables import ledger_nodes, tree_heads

__all__ = ["new_ledger"]  # the fixture


def test_stored_tree_size_roots_and_proofs_match_the_reference(new_ledger: NewLedger) -> None:
    book = new_ledger(13)
    tree = StoredTree(book.conn)
    assert tree.size() == 13
    for size in range(1, 14):
        assert tree.root(size) == book.tree.root(size), size
        for index in range(size):
            assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(
                index, size, book.tree
            )
        for first in range(1, size + 1):
            assert tree.consistency_proof(first, size) == merkle.consistency_proof(
                first, size, book.tree
            )


def test_an_empty_stored_tree_has_size_zero(new_ledger: NewLedger) -> None:
    book = new_ledger(0)
    assert StoredTree(book.conn).size() == 0
    assert StoredTree(book.conn).root(0) == merkle.EMPTY_ROOT


def test_stored_tree_refuses_bad_proof_arguments(new_ledger: NewLedger) -> None:
    tree = StoredTree(new_ledger(4).conn)
    with pytest.raises(ValueError):
        tree.inclusion_proof(4, 4)
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 4)


def test_a_missing_subtree_is_named(new_ledger: NewLedger) -> None:
    book = new_ledger(8)
    book.conn.execute(
        ledger_nodes.delete().where(ledger_nodes.c.level == 3, ledger_nodes.c.position == 0)
    )
    with pytest.raises(LookupError) as caught:
        StoredTree(book.conn).root(8)
    assert str(caught.value) == "the ledger store lacks subtree (level 3, position 0)"


def _store(book, size: int, minutes: int = 0):  # type: ignore[no-untyped-def]
    head = sign_head(KEY, size, book.tree.root(size), NOW + timedelta(minutes=minutes))
    book.conn.execute(tree_heads.insert().values(**head.to_json()))
    return head


def test_stored_heads_come_oldest_first(new_ledger: NewLedger) -> None:
    book = new_ledger(6)
    assert stored_heads(book.conn) == []
    assert latest_head(book.conn) is None
    heads = [_store(book, 4), _store(book, 6, 1), _store(book, 2, 2)]
    assert stored_heads(book.conn) == heads


def test_latest_head_is_the_biggest_tree_then_the_last_signed(new_ledger: NewLedger) -> None:
    book = new_ledger(6)
    _store(book, 4)
    first_six = _store(book, 6, 1)
    assert latest_head(book.conn) == first_six
    _store(book, 2, 2)  # signed later, smaller tree
    assert latest_head(book.conn) == first_six
    second_six = _store(book, 6, 3)
    assert latest_head(book.conn) == second_six
    assert latest_head(book.conn, max_size=5) == _store_one(book, 4)
    assert latest_head(book.conn, max_size=6) == second_six
    assert latest_head(book.conn, max_size=1) is None


def _store_one(book, size: int):  # type: ignore[no-untyped-def]
    return [h for h in stored_heads(book.conn) if h.tree_size == size][-1]


def test_head_at_a_size_is_the_newest_signed_there(new_ledger: NewLedger) -> None:
    book = new_ledger(6)
    _store(book, 4)
    older = _store(book, 6, 1)
    newer = _store(book, 6, 2)
    assert older != newer
    assert head_at(book.conn, 6) == newer
    assert head_at(book.conn, 4) == _store_one(book, 4)
    assert head_at(book.conn, 5) is None


def test_parse_time_reads_signed_at() -> None:
    head = sign_head(KEY, 1, bytes(32), NOW)
    assert parse_time(head.signed_at) == NOW
    assert parse_time("2026-03-01T12:00:00.000001Z") == NOW + timedelta(microseconds=1)
    with pytest.raises(ValueError):
        parse_time("2026-03-01T12:00:00Z")


def test_stored_heads_keep_signing_order_after_a_row_is_rewritten(new_ledger: NewLedger) -> None:
    """PostgreSQL moves an updated row to the end of the table: the heads still
    come in signing order."""
    book = new_ledger(6)
    heads = [_store(book, 2), _store(book, 4, 1), _store(book, 6, 2)]
    first_id = book.conn.execute(select(func.min(tree_heads.c.id))).scalar_one()
    book.conn.execute(
        tree_heads.update().where(tree_heads.c.id == first_id).values(key_id=heads[0].key_id)
    )
    assert stored_heads(book.conn) == heads


def test_the_newest_head_among_equal_sizes_is_the_last_signed_wherever_its_row_lies(
    new_ledger: NewLedger,
) -> None:
    """Heads of one size are told apart by signing order (their id), not by
    where the database happens to keep their rows: here the rows are written
    in another order than their ids (as a restored or rewritten table may hold
    them), and the newest is still the one with the highest id (R-38)."""
    book = new_ledger(6)
    heads = {}
    for row_id, minutes in ((5, 0), (2, 1), (9, 2), (1, 3), (7, 4)):
        head = sign_head(KEY, 6, book.tree.root(6), NOW + timedelta(minutes=minutes))
        book.conn.execute(tree_heads.insert().values(id=row_id, **head.to_json()))
        heads[row_id] = head
    small = sign_head(KEY, 4, book.tree.root(4), NOW)
    book.conn.execute(tree_heads.insert().values(id=20, **small.to_json()))
    assert latest_head(book.conn) == heads[9]
    assert latest_head(book.conn, max_size=6) == heads[9]
    assert latest_head(book.conn, max_size=5) == small
    assert head_at(book.conn, 6) == heads[9]
