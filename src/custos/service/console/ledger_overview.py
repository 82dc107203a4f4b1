"""The ledger's state for auditors (docs/console.md#audit): how many entries
the tree holds, the newest signed tree head (its signature and root checked
against the keys and the stored tree), the signing keys, each witness and how
far it got, and the last full verification. Read only; records nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select

from custos.domain.model import Operator
from custos.ledger import witness
from custos.ledger.audit import latest_verification
from custos.ledger.heads import key_ring, latest_head
from custos.ledger.proofs import require_ledger_reader
from custos.ledger.signing import TreeHead, verify_head
from custos.ledger.tree_store import StoredTree
from custos.service.ports import Services
from custos.store.tables import tree_heads

WitnessState = Literal["up_to_date", "behind", "disagrees", "damaged", "empty", "not_checked"]


@dataclass(frozen=True, slots=True)
class Witness:
    kind: Literal["file", "url"]
    where: str
    state: WitnessState
    detail: str
    #: The biggest tree the witness holds a head for (a file witness), if any.
    latest_size: int | None = None


@dataclass(frozen=True, slots=True)
class Key:
    key_id: str
    created_at: str
    active: bool


@dataclass(frozen=True, slots=True)
class LedgerOverview:
    tree_size: int
    heads_signed: int
    latest_head: TreeHead | None
    #: Whether the newest head's signature verifies with the key it names
    #: (None: no head, or no such key on this deployment).
    head_signature_valid: bool | None
    #: Whether the stored tree still has the newest head's root at its size.
    head_matches_tree: bool | None
    keys: list[Key] = field(default_factory=list)
    witnesses: list[Witness] = field(default_factory=list)
    last_verification: dict[str, Any] | None = None

    @property
    def unsigned_entries(self) -> int:
        """Entries newer than the newest signed head (signed on the worker's schedule)."""
        return self.tree_size - (self.latest_head.tree_size if self.latest_head else 0)


def ledger_overview(svc: Services, operator: Operator) -> LedgerOverview:
    """The ledger's state. Raises NotAuthorized unless ``operator`` reads the
    ledger (auditor, admin)."""
    require_ledger_reader(operator)
    with svc.uow() as uow:
        tree = StoredTree(uow.conn)
        size = tree.size()
        signed = int(uow.conn.execute(select(func.count()).select_from(tree_heads)).scalar_one())
        head = latest_head(uow.conn)
        matches = None
        if head is not None and head.tree_size <= size:
            matches = tree.root(head.tree_size).hex() == head.root_hash
        elif head is not None:
            matches = False
    keys = key_ring(svc).all_keys()
    public = {k.key_id: k.public for k in keys}
    valid = None
    if head is not None and head.key_id in public:
        valid = verify_head(head, public[head.key_id])
    return LedgerOverview(
        tree_size=size,
        heads_signed=signed,
        latest_head=head,
        head_signature_valid=valid,
        head_matches_tree=matches,
        keys=[Key(k.key_id, k.created_at, i == len(keys) - 1) for i, k in enumerate(keys)],
        witnesses=_witnesses(svc, head),
        last_verification=latest_verification(svc),
    )


def _witnesses(svc: Services, head: TreeHead | None) -> list[Witness]:
    found = []
    path = svc.settings.ledger_witness_file
    if path is not None:
        found.append(file_witness(str(path), *witness.read_file(path), head))
    if svc.settings.ledger_witness_url is not None:
        found.append(
            Witness(
                "url",
                svc.settings.ledger_witness_url,
                "not_checked",
                "every new head is POSTed to it; a failed delivery is logged "
                "(witness_publish_failed), not recorded here",
            )
        )
    return found


def file_witness(
    where: str, heads: list[TreeHead], unreadable: list[str], head: TreeHead | None
) -> Witness:
    """How far a witness file holding ``heads`` (and ``unreadable`` lines) got,
    against the database's newest signed ``head``."""
    latest = max(heads, key=lambda h: h.tree_size) if heads else None
    size = latest.tree_size if latest else None
    if unreadable:
        return Witness("file", where, "damaged", "; ".join(unreadable[:3]), size)
    if latest is None:
        detail = "holds no tree head" + ("" if head is not None else "; none was signed yet")
        return Witness("file", where, "empty", detail, None)
    if head is None or latest.tree_size > head.tree_size:
        return Witness("file", where, "disagrees", "holds a head the database does not", size)
    same_size = [h for h in heads if h.tree_size == head.tree_size]
    if not same_size:
        return Witness("file", where, "behind", f"newest head it holds: size {size}", size)
    if any(h.root_hash != head.root_hash for h in same_size):
        return Witness("file", where, "disagrees", f"a head of size {size} with another root", size)
    return Witness("file", where, "up_to_date", "holds the newest signed head", size)
