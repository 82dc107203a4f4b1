"""RFC 9162 §2.1 Merkle trees: hashing, inclusion and consistency proofs, and the
verification algorithms of §2.1.3.2 and §2.1.4.2. Pure functions, no I/O.

Trees are read through a :data:`NodeSource`: a function giving the hash of the
*complete* subtree at ``(level, index)`` (the ``2**level`` leaves starting at
``index * 2**level``; level 0 is a leaf hash). Every range the RFC recursion
visits is either such a complete subtree or splits into them, so a store that
keeps complete-subtree hashes answers any proof with O(log n) lookups, and
:class:`MemoryTree` answers them from a list of leaves (tests, offline tools).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``(level, index) -> hash`` of a complete subtree (level 0: a leaf hash).
NodeSource = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry): the hash of one leaf (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(start: int, end: int, nodes: NodeSource) -> bytes:
    """MTH(D[start:end]) for a range the RFC recursion visits (``start`` is a
    multiple of the largest power of two not above ``end - start``)."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        return nodes(n.bit_length() - 1, start // n)
    k = split_point(n)
    return node_hash(range_hash(start, start + k, nodes), range_hash(start + k, end, nodes))


def root(size: int, nodes: NodeSource) -> bytes:
    """The Merkle tree hash of the first ``size`` leaves."""
    return range_hash(0, size, nodes)


def inclusion_proof(index: int, size: int, nodes: NodeSource) -> list[bytes]:
    """PATH(index, D[0:size]) (RFC 9162 §2.1.3.1). Raises ValueError when
    ``index`` is not below ``size``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    return _path(index, 0, size, nodes)


def _path(m: int, start: int, end: int, nodes: NodeSource) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*_path(m, start, start + k, nodes), range_hash(start + k, end, nodes)]
    return [*_path(m - k, start + k, end, nodes), range_hash(start, start + k, nodes)]


def consistency_proof(first: int, second: int, nodes: NodeSource) -> list[bytes]:
    """PROOF(first, D[0:second]) (RFC 9162 §2.1.4.1); empty when the sizes are
    equal. Raises ValueError unless ``0 < first <= second``."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first == second:
        return []
    return _subproof(first, 0, second, True, nodes)


def _subproof(m: int, start: int, end: int, whole: bool, nodes: NodeSource) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [range_hash(start, end, nodes)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, nodes), range_hash(start + k, end, nodes)]
    return [*_subproof(m - k, start + k, end, False, nodes), range_hash(start, start + k, nodes)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` in
    the tree of ``size`` leaves with root ``expected_root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree of ``first`` leaves with
    ``first_root`` is a prefix of the tree of ``second`` leaves with ``second_root``?"""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is the proof's start
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def completed_nodes(index: int, leaf: bytes, nodes: NodeSource) -> list[tuple[int, int, bytes]]:
    """The complete subtrees (level >= 1) that appending ``leaf`` at ``index``
    finishes, as ``(level, index, hash)``; ``nodes`` gives their left halves,
    which already exist. At most log2(index + 1) of them, one on average."""
    done: list[tuple[int, int, bytes]] = []
    level, position, current = 0, index, leaf
    while position & 1:
        current = node_hash(nodes(level, position - 1), current)
        level, position = level + 1, position >> 1
        done.append((level, position, current))
    return done


class MemoryTree:
    """Every complete subtree of a list of leaf hashes, in memory: a NodeSource
    for tests and for verifying from a full scan."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        index = self.size
        self.levels[0].append(leaf)
        for level, _, value in completed_nodes(index, leaf, self):
            if len(self.levels) <= level:
                self.levels.append([])
            self.levels[level].append(value)

    def __call__(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(self.size if size is None else size, self)


class CompactRange:
    """The right edge of a growing tree: O(log n) hashes from which the root of
    the tree so far is known at any moment. Used to stream a verification."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), largest first

    def append(self, leaf: bytes) -> None:
        stack = self._stack
        level, current = 0, leaf
        while stack and stack[-1][0] == level:
            current = node_hash(stack.pop()[1], current)
            level += 1
        stack.append((level, current))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        current = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            current = node_hash(left, current)
        return current
