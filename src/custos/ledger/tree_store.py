"""The Merkle tree as the store holds it: leaf hashes on ``ledger`` and complete
subtree hashes in ``ledger_nodes``. Roots and proofs need O(log n) node reads,
fetched in one round trip per level kind, whatever the tree size."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, and_, func, or_, select

from custos.ledger import merkle
from custos.store.tables import ledger, ledger_nodes

T = TypeVar("T")
_PLACEHOLDER = bytes(merkle.HASH_SIZE)


class StoredTree:
    """Read-only view of the tree through ``conn`` (the caller's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def size(self) -> int:
        top = self._conn.execute(select(func.max(ledger.c.leaf_index))).scalar_one()
        return 0 if top is None else int(top) + 1

    def root(self, size: int) -> bytes:
        return self._run(lambda nodes: merkle.root(size, nodes))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Raises ValueError when ``index`` is not below ``size``."""
        return self._run(lambda nodes: merkle.inclusion_proof(index, size, nodes))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Raises ValueError unless ``0 < first <= second``."""
        return self._run(lambda nodes: merkle.consistency_proof(first, second, nodes))

    def _run(self, algorithm: Callable[[merkle.NodeSource], T]) -> T:
        # The algorithms' control flow never depends on hash values: a dry run
        # with placeholders names every node needed, then one fetch feeds the real run.
        wanted: set[tuple[int, int]] = set()

        def record(level: int, position: int) -> bytes:
            wanted.add((level, position))
            return _PLACEHOLDER

        algorithm(record)
        found = self._fetch(wanted)

        def lookup(level: int, position: int) -> bytes:
            try:
                return found[(level, position)]
            except KeyError:
                raise LookupError(
                    f"the ledger store lacks subtree (level {level}, position {position})"
                ) from None

        return algorithm(lookup)

    def _fetch(self, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        leaves = sorted(p for lv, p in wanted if lv == 0)
        if leaves:
            rows = self._conn.execute(
                select(ledger.c.leaf_index, ledger.c.leaf_hash).where(
                    ledger.c.leaf_index.in_(leaves)
                )
            )
            found.update({(0, int(i)): bytes(h) for i, h in rows})
        by_level: dict[int, list[int]] = {}
        for level, position in wanted:
            if level > 0:
                by_level.setdefault(level, []).append(position)
        if by_level:
            # One (level = ? AND position IN ...) term per level: both engines
            # answer it from the primary key (SQLite scans on a row-value IN).
            nodes = self._conn.execute(
                select(ledger_nodes.c.level, ledger_nodes.c.position, ledger_nodes.c.hash).where(
                    or_(
                        *(
                            and_(ledger_nodes.c.level == lv, ledger_nodes.c.position.in_(ps))
                            for lv, ps in sorted(by_level.items())
                        )
                    )
                )
            )
            found.update({(int(lv), int(p)): bytes(h) for lv, p, h in nodes})
        return found
