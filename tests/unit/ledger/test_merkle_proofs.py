"""RFC 9162 §2.1 hashing and proofs over trees of 1..70 entries: every inclusion
and consistency proof verifies, and any altered leaf, path, index or size fails
(R-38: the audit trail is integrity-protected cryptographically)."""

from __future__ import annotations

import hashlib

import pytest

from custos.ledger import merkle
from custos.ledger.merkle import (
    CompactRange,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

SIZES = range(1, 71)


def _entries(n: int) -> list[bytes]:
    return [f'{{"n":{i}}}'.encode() for i in range(n)]


def _reference_mth(entries: list[bytes]) -> bytes:
    """MTH written straight from the RFC's definition, independent of the module."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    left, right = _reference_mth(entries[:k]), _reference_mth(entries[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


@pytest.fixture(scope="module")
def tree() -> MemoryTree:
    return MemoryTree(leaf_hash(e) for e in _entries(max(SIZES)))


def test_leaf_and_node_hashes_use_the_rfc_prefixes() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert MemoryTree().root() == hashlib.sha256(b"").digest()


def test_roots_match_the_rfc_definition_for_every_size(tree: MemoryTree) -> None:
    entries = _entries(max(SIZES))
    compact = CompactRange()
    for n in SIZES:
        compact.append(tree(0, n - 1))
        assert tree.root(n) == _reference_mth(entries[:n])
        assert compact.root() == tree.root(n)


def test_every_inclusion_proof_verifies(tree: MemoryTree) -> None:
    for n in SIZES:
        top = tree.root(n)
        for i in range(n):
            path = inclusion_proof(i, n, tree)
            assert verify_inclusion(tree(0, i), i, n, path, top), (i, n)


def test_inclusion_proof_fails_when_anything_is_altered(tree: MemoryTree) -> None:
    for n in SIZES:
        top = tree.root(n)
        for i in range(n):
            path = inclusion_proof(i, n, tree)
            assert not verify_inclusion(leaf_hash(b"forged"), i, n, path, top)
            if path:
                bad = [*path[:-1], bytes(32)]
                assert not verify_inclusion(tree(0, i), i, n, bad, top)
                assert not verify_inclusion(tree(0, i), i, n, path[:-1], top)
            assert not verify_inclusion(tree(0, i), i, n, [*path, bytes(32)], top)
            if n > 1:
                other = (i + 1) % n
                assert not verify_inclusion(tree(0, i), other, n, path, top)
            if n < max(SIZES):  # a claimed bigger tree has another root
                assert not verify_inclusion(tree(0, i), i, n + 1, path, tree.root(n + 1))
            assert not verify_inclusion(tree(0, i), i, i, path, top)


def test_every_consistency_proof_verifies(tree: MemoryTree) -> None:
    for n in SIZES:
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, tree)
            assert verify_consistency(m, n, tree.root(m), tree.root(n), proof), (m, n)


def test_consistency_proof_fails_when_anything_is_altered(tree: MemoryTree) -> None:
    for n in SIZES:
        for m in range(1, n):
            proof = consistency_proof(m, n, tree)
            first, second = tree.root(m), tree.root(n)
            assert not verify_consistency(m, n, leaf_hash(b"x"), second, proof)
            assert not verify_consistency(m, n, first, leaf_hash(b"x"), proof)
            assert not verify_consistency(m, n, first, second, [*proof[:-1], bytes(32)])
            assert not verify_consistency(m, n, first, second, proof[1:])
            assert not verify_consistency(m, n, first, second, [])
            if n < max(SIZES):
                assert not verify_consistency(m, n + 1, first, tree.root(n + 1), proof)
            if m > 1:
                assert not verify_consistency(m - 1, n, first, second, proof)


def test_proofs_refuse_sizes_outside_the_tree(tree: MemoryTree) -> None:
    with pytest.raises(ValueError):
        inclusion_proof(5, 5, tree)
    with pytest.raises(ValueError):
        consistency_proof(0, 5, tree)
    with pytest.raises(ValueError):
        consistency_proof(6, 5, tree)
    assert consistency_proof(5, 5, tree) == []
    assert verify_consistency(5, 5, tree.root(5), tree.root(5), [])
    assert not verify_consistency(5, 5, tree.root(5), tree.root(4), [])


def test_completed_nodes_are_exactly_the_finished_subtrees() -> None:
    tree = MemoryTree(leaf_hash(e) for e in _entries(7))
    done = merkle.completed_nodes(7, leaf_hash(b"eighth"), tree)
    assert [(level, index) for level, index, _ in done] == [(1, 3), (2, 1), (3, 0)]
    assert merkle.completed_nodes(8, leaf_hash(b"ninth"), tree) == []


@pytest.mark.timeout(10)
@pytest.mark.parametrize("first", [0, -1, -8])
def test_verify_consistency_refuses_a_first_size_below_one(tree: MemoryTree, first: int) -> None:
    """R-38: an empty or negative first tree proves nothing, and the check ends
    (without the range guard, first 0 spins forever on ``fn = -1``)."""
    for proof in ([tree.root(5)], consistency_proof(1, 5, tree), [bytes(32)] * 3):
        assert not verify_consistency(first, 5, tree.root(0), tree.root(5), proof)
    assert not verify_consistency(first, 0, tree.root(0), tree.root(0), [])


@pytest.mark.timeout(10)
def test_verify_consistency_refuses_a_smaller_second_tree(tree: MemoryTree) -> None:
    """R-38: a second tree smaller than the first is a rolled-back ledger; no
    proof, not even the genuine forward one or an empty one, makes it consistent."""
    for n in range(1, 34):
        for m in range(n + 1, 35):
            forward = consistency_proof(n, m, tree)
            first, second = tree.root(m), tree.root(n)
            for proof in (forward, forward[::-1], [], [second], [first, *forward]):
                assert not verify_consistency(m, n, first, second, proof), (m, n, proof)
            # Even claiming the same root for both sizes does not pass.
            assert not verify_consistency(m, n, first, first, [])


@pytest.mark.parametrize(("first", "second"), [(3, 2), (6, 4), (6, 3)])
def test_verify_consistency_refuses_a_forged_rollback(
    tree: MemoryTree, first: int, second: int
) -> None:
    """R-38: a rolled-back head whose root the forger computed from the proof
    itself (``node_hash(old_root, c)``) is refused: without the size guard, the
    RFC walk accepts exactly this proof for a second tree smaller than the first."""
    old_root = tree.root(first)
    forged = leaf_hash(b"forged")
    claimed = node_hash(old_root, forged)
    assert not verify_consistency(first, second, old_root, claimed, [old_root, forged])


def test_compact_range_counts_its_leaves(tree: MemoryTree) -> None:
    """R-38: the streaming verifier's compact range knows how many leaves it holds
    and, empty, has the empty tree's root."""
    compact = CompactRange()
    assert (compact.size, compact.root()) == (0, merkle.EMPTY_ROOT)
    for n in range(1, 20):
        compact.append(tree(0, n - 1))
        assert compact.size == n
        assert compact.root() == tree.root(n)


def test_proofs_name_the_sizes_they_refuse(tree: MemoryTree) -> None:
    """The refusal is the module's own, naming the sizes (not an accident deeper
    down, such as a negative shift for first size 0)."""
    with pytest.raises(ValueError, match=r"^leaf 5 is not in a tree of size 5$"):
        inclusion_proof(5, 5, tree)
    with pytest.raises(ValueError, match=r"^leaf -1 is not in a tree of size 5$"):
        inclusion_proof(-1, 5, tree)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 0 to size 5$"):
        consistency_proof(0, 5, tree)
    with pytest.raises(ValueError, match=r"^no consistency proof from size 6 to size 5$"):
        consistency_proof(6, 5, tree)
