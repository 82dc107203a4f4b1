"""Recompute the ledger from the store and compare it with what was promised.

Every leaf hash is recomputed from the stored canonical bytes, in ``seq``
order, and the Merkle root at every size some head names. An intact ledger is
recomputed by the fast path (:mod:`custos.ledger.parallel`: bulk hashing of
aligned ranges, in parallel processes when ``workers > 1``); as soon as any row
differs from an intact ledger, the exact pass below takes over: one streaming
pass (a compact range, O(log n) memory) that names every problem. Then every
head (stored in ``tree_heads`` or read from a witness) must carry a valid
signature by a key of the ring and name the root the recomputed tree has at
its size. A witnessed head bigger than the tree proves a truncation; a root
that matches at a witnessed size is exactly what a consistency proof from that
head to the current tree establishes (RFC 9162 §2.1.4).

Problems name entries by leaf index (and ``seq``): ``changed``, ``reordered``,
``removed``, ``inserted``; heads by size: ``head_mismatch``, ``bad_signature``,
``unknown_key``, ``truncated``, ``head_missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from custos.ledger.localize import localize_divergence
from custos.ledger.merkle import EMPTY_ROOT
from custos.ledger.parallel import Scan, scan_ledger
from custos.ledger.signing import TreeHead, verify_head
from custos.store.tables import ledger, ledger_nodes

Progress = Callable[[int, int], None]
CHUNK = 20_000


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str
    index: int | None = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "index": self.index, "seq": self.seq}


@dataclass
class VerificationReport:
    """The outcome of one verification; ``ok`` when no problem was found."""

    entries: int = 0
    root_hash: str = ""
    heads_checked: int = 0
    witnessed_checked: int = 0
    bytes_hashed: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "root_hash": self.root_hash,
            "heads_checked": self.heads_checked,
            "witnessed_checked": self.witnessed_checked,
            "problems": [p.to_json() for p in self.problems],
        }


def _chunks(conn: Connection) -> Iterator[list[Sequence[Any]]]:
    """(seq, leaf_index, leaf_hash, canonical) in seq order, in chunks straight
    from the driver (a server-side cursor on PostgreSQL): no per-row objects."""
    # The canonical text comes back as its UTF-8 bytes: no decode and re-encode.
    as_bytes = (
        "convert_to(canonical, 'UTF8')"
        if conn.dialect.name == "postgresql"
        else ("CAST(canonical AS BLOB)")
    )
    sql = f"SELECT seq, leaf_index, leaf_hash, {as_bytes} FROM ledger ORDER BY seq"  # noqa: S608
    raw: Any = conn.connection.dbapi_connection
    postgresql = conn.dialect.name == "postgresql"
    cursor = raw.cursor(name="custos_verify", binary=True) if postgresql else raw.cursor()
    try:
        cursor.execute(sql)
        while chunk := cursor.fetchmany(CHUNK):
            yield chunk
    finally:
        cursor.close()


def _fold(stack: list[bytes]) -> bytes:
    """The root of a compact range (hashes of the set bits of the size, largest first)."""
    if not stack:
        return EMPTY_ROOT
    current = stack[-1]
    for left in reversed(stack[:-1]):
        current = sha256(b"\x01" + left + current).digest()
    return current


def verify_ledger(
    conn: Connection,
    keys: dict[str, Ed25519PublicKey],
    stored: Sequence[TreeHead],
    witnessed: Sequence[TreeHead] = (),
    *,
    total: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> VerificationReport:
    """Verify the ledger seen through ``conn`` against ``stored`` heads (the
    ``tree_heads`` table) and ``witnessed`` heads, with public ``keys`` by id.

    ``workers > 1`` lets the fast path fork that many processes, each reading
    its range through a connection of its own: ``conn`` must then hold no
    uncommitted ledger writes (verification is read-only anyway)."""
    report = VerificationReport()
    sizes = {h.tree_size for h in (*stored, *witnessed)}
    scan = scan_ledger(conn, sizes, workers=workers, progress=progress)
    if scan is None:
        scan = _exact_scan(conn, sizes, report, total, progress)
    position, roots = scan.entries, scan.roots
    report.entries, report.bytes_hashed = scan.entries, scan.bytes_hashed
    report.root_hash = scan.root.hex()
    for head in stored:
        report.heads_checked += 1
        report.problems.extend(_check_head(head, keys, roots, position, "signed head"))
    stored_keys = {(h.tree_size, h.root_hash, h.signature) for h in stored}
    for head in witnessed:
        report.witnessed_checked += 1
        report.problems.extend(_check_head(head, keys, roots, position, "witnessed head"))
        if (head.tree_size, head.root_hash, head.signature) not in stored_keys:
            report.problems.append(
                Problem(
                    "head_missing",
                    f"the witnessed head at size {head.tree_size} is missing from tree_heads",
                )
            )
    mismatched = any(p.kind in ("head_mismatch", "truncated") for p in report.problems)
    entry_level = any(p.index is not None for p in report.problems)
    if mismatched and not entry_level:
        report.problems.extend(_localize(conn))
    return report


def _exact_scan(
    conn: Connection,
    sizes: set[int],
    report: VerificationReport,
    total: int | None,
    progress: Progress | None,
) -> Scan:
    """The exact pass: one row at a time, recording every order problem in
    ``report`` and every changed or moved entry, by index and ``seq``."""
    roots: dict[int, bytes] = {}
    changed: list[tuple[int, int, bytes, bytes]] = []  # index, seq, recomputed, stored
    stack: list[bytes] = []  # the compact range, inlined: this loop is the hot path
    expected = position = hashed = 0
    for chunk in _chunks(conn):
        for seq, leaf_index, stored_leaf, data in chunk:
            hashed += len(data)
            leaf = sha256(b"\x00" + data).digest()
            if leaf != stored_leaf:
                changed.append((position, seq, leaf, bytes(stored_leaf or b"")))
            if leaf_index == expected:
                expected += 1
            else:
                expected = _order_problem(report, seq, leaf_index, expected, position)
            current, n = leaf, position
            while n & 1:
                current = sha256(b"\x01" + stack.pop() + current).digest()
                n >>= 1
            stack.append(current)
            position += 1
            if position in sizes:
                roots[position] = _fold(stack)
        if progress is not None:
            progress(position, max(total or 0, position))
    report.problems.extend(_changed(changed))
    return Scan(position, hashed, _fold(stack), roots)


def _order_problem(
    report: VerificationReport, seq: int, leaf_index: int | None, expected: int, position: int
) -> int:
    """Record an out-of-order leaf index; return the next expected index."""
    if leaf_index is None or leaf_index < expected:
        message = f"entry seq {seq} was inserted at index {position}"
        report.problems.append(Problem("inserted", message, position, seq))
        return expected
    gone = f"{expected}" if leaf_index == expected + 1 else f"{expected}..{leaf_index - 1}"
    message = f"entry index {gone} was removed (before seq {seq})"
    report.problems.append(Problem("removed", message, expected, seq))
    return leaf_index + 1


def _changed(changed: list[tuple[int, int, bytes, bytes]]) -> list[Problem]:
    """A recomputed leaf that equals another changed row's recorded leaf moved
    there (reordered); any other mismatch is a changed entry."""
    recorded = {stored: index for index, _, _, stored in changed}
    problems = []
    for index, seq, leaf, _ in changed:
        origin = recorded.get(leaf)
        if origin is not None and origin != index:
            problems.append(
                Problem(
                    "reordered",
                    f"entry index {index} (seq {seq}) holds the entry appended at index {origin}",
                    index,
                    seq,
                )
            )
        else:
            problems.append(
                Problem("changed", f"entry index {index} (seq {seq}) was changed", index, seq)
            )
    return problems


def _check_head(
    head: TreeHead,
    keys: dict[str, Ed25519PublicKey],
    roots: dict[int, bytes],
    size: int,
    what: str,
) -> list[Problem]:
    label = f"{what} at size {head.tree_size} ({head.signed_at})"
    problems = []
    public = keys.get(head.key_id)
    if public is None:
        problems.append(Problem("unknown_key", f"{label}: key {head.key_id} is not in the ring"))
    elif not verify_head(head, public):
        problems.append(Problem("bad_signature", f"{label}: the signature does not verify"))
    if head.tree_size > size:
        problems.append(
            Problem(
                "truncated",
                f"{label}: the ledger has {size} entries; entries index "
                f"{size}..{head.tree_size - 1} were removed",
                size,
            )
        )
    elif head.tree_size in roots and roots[head.tree_size].hex() != head.root_hash:
        problems.append(
            Problem("head_mismatch", f"{label}: the recomputed root differs from the signed root")
        )
    return problems


def _localize(conn: Connection) -> list[Problem]:
    """Entry-level rows look intact yet a root differs: someone rewrote rows with
    fresh leaf hashes. Compare with the pair hashes recorded at append time."""
    leaves = [
        (int(seq), bytes(h))
        for seq, h in conn.execute(select(ledger.c.seq, ledger.c.leaf_hash).order_by(ledger.c.seq))
    ]
    pairs = {
        int(p): bytes(h)
        for p, h in conn.execute(
            select(ledger_nodes.c.position, ledger_nodes.c.hash).where(ledger_nodes.c.level == 1)
        )
    }
    found = localize_divergence([h for _, h in leaves], pairs)
    if found is None:
        return []
    kind, index, message = found
    seq = leaves[index][0] if index < len(leaves) else None
    return [Problem(kind, message, index, seq)]
