"""Find where a rewritten ledger diverges from the tree recorded at append time.

When rows were rewritten together with fresh leaf hashes (and renumbered), each
row still looks self-consistent; the level-1 subtree hashes written at append
time (``H(leaf[2k], leaf[2k+1])``) still describe the original order. The first
pair that no longer matches locates the divergence, and a look at the
neighbouring leaves tells an insertion, a removal, a swap or a change apart.
Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from custos.ledger.merkle import node_hash


def localize_divergence(
    leaves: Sequence[bytes], pairs: dict[int, bytes]
) -> tuple[str, int, str] | None:
    """``(kind, index, message)`` for the first divergence between ``leaves``
    (the leaf hashes now stored, in order) and ``pairs`` (recorded level-1
    hashes by position), or None when every recorded pair still matches."""

    def leaf(i: int) -> bytes | None:
        return leaves[i] if 0 <= i < len(leaves) else None

    def pair(a: int, b: int) -> bytes | None:
        left, right = leaf(a), leaf(b)
        return None if left is None or right is None else node_hash(left, right)

    for k in sorted(pairs):
        left, right = 2 * k, 2 * k + 1
        recorded = pairs[k]
        if pair(left, right) == recorded:
            continue
        if pair(right, right + 1) == recorded:
            return "inserted", left, f"an entry was inserted at index {left}"
        if pair(left, right + 1) == recorded:
            return "inserted", right, f"an entry was inserted at index {right}"
        if pair(right, left) == recorded:
            return "reordered", left, f"entries index {left} and {right} were swapped"
        following = pairs.get(k + 1)
        if following is not None and pair(right, right + 1) == following:
            return "removed", left, f"an entry at index {left} or {right} was removed"
        if right >= len(leaves):
            return "removed", len(leaves), f"entries from index {len(leaves)} on were removed"
        return "changed", left, f"entry index {left} or {right} was rewritten"
    return None
