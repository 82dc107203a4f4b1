"""Ledger continuity across a restore: which signed heads the world has seen,
what a restore would drop, and RFC 9162 consistency proofs from a head signed
before the backup to the head signed after the restore.

Seen heads are the witness file's (``ledger_witness_file``) and every head
stored in the current database: each was published to the configured
witnesses when it was signed, and evidence packs and proofs handed out carry
them. A restore that ends the ledger before one of them rolls back history
someone may hold a signature for.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, select

from custos.config import Settings
from custos.ledger import merkle, witness
from custos.ledger.heads import stored_heads
from custos.ledger.signing import TreeHead, verify_head
from custos.ledger.tree_store import StoredTree
from custos.store.tables import ledger, tree_heads

#: How many case ids a loss lists by name.
LISTED_CASES = 50


@dataclass(frozen=True, slots=True)
class Loss:
    """What replacing the current ledger by a backup of ``backup_size`` entries drops."""

    backup_size: int
    #: Entries past the backup: from the current database, or (when it cannot
    #: be read) at least those the biggest witnessed head covers.
    entries: int
    #: Cases with entries past the backup (sorted; empty when unknown).
    cases: list[str]
    case_count: int
    #: The biggest seen head past the backup, if any: a rollback of seen history.
    witnessed: TreeHead | None
    #: False: the current database could not be read (counts from the witness).
    known: bool

    def describe(self) -> str:
        which = (
            f"{self.case_count} case(s): {', '.join(self.cases)}"
            + (" ..." if self.case_count > len(self.cases) else "")
            if self.case_count
            else "no case"
            if self.known
            else "which cases cannot be told (the current database cannot be read)"
        )
        seen = (
            f"; the ledger was seen at size {self.witnessed.tree_size} (head signed "
            f"{self.witnessed.signed_at} by {self.witnessed.key_id})"
            if self.witnessed is not None
            else ""
        )
        return (
            f"the backup ends the ledger at {self.backup_size} entries: {self.entries} "
            f"later entries would be lost, touching {which}{seen}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "backup_size": self.backup_size,
            "entries": self.entries,
            "cases": self.cases,
            "case_count": self.case_count,
            "witnessed_size": None if self.witnessed is None else self.witnessed.tree_size,
            "known": self.known,
        }


def seen_heads(settings: Settings, current: Connection | None) -> tuple[list[TreeHead], list[str]]:
    """The heads seen outside the database (witness file) and stored in the
    current one, without duplicates; and a line per unreadable witness line."""
    heads: list[TreeHead] = []
    problems: list[str] = []
    if settings.ledger_witness_file is not None:
        heads, problems = witness.read_file(settings.ledger_witness_file)
    if current is not None:
        heads = [*heads, *stored_heads(current)]
    unique = {(h.tree_size, h.root_hash, h.signature): h for h in heads}
    return sorted(unique.values(), key=lambda h: (h.tree_size, h.signed_at)), problems


def loss_of(current: Connection | None, backup_size: int, seen: list[TreeHead]) -> Loss | None:
    """What a restore of a ledger of ``backup_size`` entries drops, or None when
    nothing is lost (the current ledger is no longer and no seen head is bigger)."""
    biggest = max(seen, key=lambda h: h.tree_size, default=None)
    past = biggest if biggest is not None and biggest.tree_size > backup_size else None
    if current is None:
        if past is None:
            return None
        return Loss(backup_size, past.tree_size - backup_size, [], 0, past, known=False)
    size = StoredTree(current).size()
    if size <= backup_size and past is None:
        return None
    later = ledger.c.leaf_index >= backup_size
    case_count = int(
        current.execute(
            select(func.count(func.distinct(ledger.c.case_id))).where(
                later, ledger.c.case_id.is_not(None)
            )
        ).scalar_one()
    )
    cases = [
        str(c)
        for c in current.execute(
            select(ledger.c.case_id)
            .where(later, ledger.c.case_id.is_not(None))
            .group_by(ledger.c.case_id)
            .order_by(ledger.c.case_id)
            .limit(LISTED_CASES)
        ).scalars()
    ]
    entries = max(size - backup_size, 0 if past is None else past.tree_size - backup_size)
    return Loss(backup_size, entries, cases, case_count, past, known=True)


def forks(conn: Connection, seen: list[TreeHead], size: int) -> list[TreeHead]:
    """Seen heads no bigger than the ledger behind ``conn`` whose root differs
    from that ledger's: the ledger is not the history they signed."""
    tree = StoredTree(conn)
    return [
        h for h in seen if 0 < h.tree_size <= size and tree.root(h.tree_size).hex() != h.root_hash
    ]


def restore_missing_heads(conn: Connection, seen: list[TreeHead], size: int) -> int:
    """Store the seen heads that fit the ledger behind ``conn`` (no bigger, same
    root) but are missing from its ``tree_heads`` (signed after the backup);
    returns how many. ``audit verify`` then finds every witnessed head."""
    stored = {(h.tree_size, h.root_hash, h.signature) for h in stored_heads(conn)}
    tree = StoredTree(conn)
    added = 0
    for head in seen:
        key = (head.tree_size, head.root_hash, head.signature)
        if key in stored or not 0 < head.tree_size <= size:
            continue
        if tree.root(head.tree_size).hex() == head.root_hash:
            conn.execute(tree_heads.insert().values(**head.to_json()))
            added += 1
    return added


@dataclass(frozen=True, slots=True)
class Consistency:
    """A consistency proof from ``first`` (signed before) to ``second`` (signed after)."""

    label: str
    first: TreeHead
    second: TreeHead
    proof: list[str]
    #: The proof verifies (RFC 9162 §2.1.4.2) between the two signed roots.
    consistent: bool
    #: Both heads' signatures verify with the ledger's public keys.
    signed: bool

    @property
    def ok(self) -> bool:
        return self.consistent and self.signed

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "first": self.first.to_json(),
            "second": self.second.to_json(),
            "consistency_proof": self.proof,
            "consistent": self.consistent,
            "signed": self.signed,
        }


def prove(
    conn: Connection,
    label: str,
    first: TreeHead,
    second: TreeHead,
    keys: dict[str, Ed25519PublicKey],
) -> Consistency:
    """Prove from the ledger behind ``conn`` that ``second`` extends ``first``,
    and check the proof and both signatures as an auditor would."""
    proof: list[bytes] = []
    consistent = False
    if 0 < first.tree_size <= second.tree_size:
        proof = StoredTree(conn).consistency_proof(first.tree_size, second.tree_size)
        consistent = merkle.verify_consistency(
            first.tree_size,
            second.tree_size,
            bytes.fromhex(first.root_hash),
            bytes.fromhex(second.root_hash),
            proof,
        )
    signed = all(h.key_id in keys and verify_head(h, keys[h.key_id]) for h in (first, second))
    return Consistency(label, first, second, [p.hex() for p in proof], consistent, signed)
