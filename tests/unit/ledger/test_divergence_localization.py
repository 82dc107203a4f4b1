"""Where a ledger rewritten with fresh leaf hashes diverges from the pair
hashes recorded at append time (``localize.localize_divergence``), case by
case: an insertion at either index of a pair, a swap, a removal inside the
tree or at its end, a changed entry, and the first divergent pair winning
(R-38: tamper evidence that names the place)."""

from __future__ import annotations

from custos.ledger.localize import localize_divergence
from custos.ledger.merkle import leaf_hash, node_hash

ORIGINAL = [leaf_hash(b'{"n":%d}' % n) for n in range(8)]
PAIRS = {k: node_hash(ORIGINAL[2 * k], ORIGINAL[2 * k + 1]) for k in range(4)}
X = leaf_hash(b'{"n":"inserted"}')


def _without(index: int) -> list[bytes]:
    return ORIGINAL[:index] + ORIGINAL[index + 1 :]


def _with(index: int, leaf: bytes = X) -> list[bytes]:
    return [*ORIGINAL[:index], leaf, *ORIGINAL[index:]]


def test_an_intact_ledger_has_no_divergence() -> None:
    assert localize_divergence(ORIGINAL, PAIRS) is None
    assert localize_divergence(ORIGINAL, {}) is None
    assert localize_divergence([*ORIGINAL, X], PAIRS) is None  # appended after the pairs


def test_an_insertion_is_named_at_its_index() -> None:
    for index in range(8):
        kind, at, message = localize_divergence(_with(index), PAIRS) or ("", -1, "")
        assert (kind, at, message) == (
            "inserted",
            index,
            f"an entry was inserted at index {index}",
        ), index


def test_an_insertion_of_a_copy_of_a_neighbour_is_still_an_insertion() -> None:
    """The leaf inserted before a pair equals the pair's second leaf."""
    leaves = _with(2, ORIGINAL[3])
    assert localize_divergence(leaves, PAIRS) == (
        "inserted",
        2,
        "an entry was inserted at index 2",
    )


def test_a_swap_within_a_pair_is_named() -> None:
    for k in range(4):
        leaves = list(ORIGINAL)
        leaves[2 * k], leaves[2 * k + 1] = leaves[2 * k + 1], leaves[2 * k]
        assert localize_divergence(leaves, PAIRS) == (
            "reordered",
            2 * k,
            f"entries index {2 * k} and {2 * k + 1} were swapped",
        )


def test_a_removal_inside_the_tree_names_its_pair() -> None:
    """The pair after it now starts one leaf early: the removal lies in the
    first divergent pair. A removal in the last recorded pair has no pair
    after it: the leaves then end early."""
    for index in range(6):
        k = index // 2
        assert localize_divergence(_without(index), PAIRS) == (
            "removed",
            2 * k,
            f"an entry at index {2 * k} or {2 * k + 1} was removed",
        ), index
    for index in (6, 7):
        assert localize_divergence(_without(index), PAIRS) == (
            "removed",
            7,
            "entries from index 7 on were removed",
        ), index


def test_entries_removed_from_the_end_are_named_from_the_first_missing() -> None:
    assert localize_divergence(ORIGINAL[:5], PAIRS) == (
        "removed",
        5,
        "entries from index 5 on were removed",
    )
    assert localize_divergence(ORIGINAL[:4], PAIRS) == (
        "removed",
        4,
        "entries from index 4 on were removed",
    )
    assert localize_divergence([], PAIRS) == (
        "removed",
        0,
        "entries from index 0 on were removed",
    )


def test_a_rewritten_entry_is_named_by_its_pair() -> None:
    for index in range(8):
        leaves = list(ORIGINAL)
        leaves[index] = X
        k = index // 2
        assert localize_divergence(leaves, PAIRS) == (
            "changed",
            2 * k,
            f"entry index {2 * k} or {2 * k + 1} was rewritten",
        ), index


def test_a_removal_followed_by_an_unrecorded_pair_is_a_change() -> None:
    """Without the next pair's record a removal cannot be told from a change."""
    pairs = {0: PAIRS[0], 1: PAIRS[1]}
    assert localize_divergence(_without(2), pairs) == (
        "changed",
        2,
        "entry index 2 or 3 was rewritten",
    )


def test_the_first_divergent_pair_is_named_whatever_the_order_given() -> None:
    leaves = list(ORIGINAL)
    leaves[5], leaves[1] = X, X
    pairs = {k: PAIRS[k] for k in (3, 2, 1, 0)}
    assert localize_divergence(leaves, pairs) == (
        "changed",
        0,
        "entry index 0 or 1 was rewritten",
    )
    only_later = {k: PAIRS[k] for k in (3, 2, 1)}
    assert localize_divergence(leaves, only_later) == (
        "changed",
        4,
        "entry index 4 or 5 was rewritten",
    )
