"""Entries with inclusion proofs and consistency proofs between tree sizes, as
plain JSON for the API and the CLI, and their local verification.

Every proof is against a *signed* head: the caller names a size, or gets the
newest head. Reading them is for the admin and auditor roles only (R-38);
:func:`require_ledger_reader` enforces that for every face. An entry about a
subject (or a case, hence its subject) is read only by an operator whose scope
covers that subject; an entry about no subject (key rotations, syncs, operator
records) by any ledger reader. An entry out of scope answers exactly as a
missing one (docs/ledger.md).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from custos.domain.errors import InvalidInput, NotAuthorized, NotFound
from custos.domain.model import Operator, Role
from custos.ledger import merkle
from custos.ledger.heads import head_at, latest_head
from custos.ledger.signing import TreeHead, verify_head
from custos.ledger.tree_store import StoredTree
from custos.service.ports import Services
from custos.store.tables import ledger
from custos.store.unit_of_work import UnitOfWork

LEDGER_READERS = frozenset({Role.ADMIN, Role.AUDITOR})


class NoSignedHead(NotFound):
    error_id = "no_signed_head"


class NotCovered(InvalidInput):
    error_id = "entry_not_covered"


def require_ledger_reader(operator: Operator) -> None:
    """Raises NotAuthorized unless ``operator`` is an admin or an auditor."""
    if not operator.roles & LEDGER_READERS:
        raise NotAuthorized("only the admin and auditor roles read the ledger")


def _head(svc: Services, tree_size: int | None) -> TreeHead:
    with svc.uow() as uow:
        head = latest_head(uow.conn) if tree_size is None else head_at(uow.conn, tree_size)
    if head is None:
        where = "" if tree_size is None else f" at size {tree_size}"
        raise NoSignedHead(f"no signed tree head{where}; run 'custos audit head'")
    return head


def latest_signed_head(svc: Services) -> dict[str, Any]:
    """The newest signed head as JSON. Raises NoSignedHead."""
    return _head(svc, None).to_json()


def readable_by(
    uow: UnitOfWork, reader: Operator | None, *, subject_id: str | None, case_id: str | None
) -> bool:
    """Whether ``reader`` may read an entry about ``subject_id`` / ``case_id``:
    always for the local CLI (``reader`` None) and a ``*`` scope; an entry
    naming a subject (or else a case) when the scope covers that subject, which
    must still be known; an entry naming neither, always."""
    if reader is None or "*" in reader.scope:
        return True
    if subject_id is None and case_id is not None:
        try:
            subject_id = uow.cases.get(case_id, children=False).subject_id
        except NotFound:
            return False
    if subject_id is None:
        return True
    subject = uow.subjects.get(subject_id)
    return subject is not None and reader.covers(subject)


def entry_with_proof(
    svc: Services, seq: int, *, reader: Operator | None, tree_size: int | None = None
) -> dict[str, Any]:
    """Entry ``seq`` (its canonical bytes as text), its leaf index and hash, and
    its inclusion proof against the signed head at ``tree_size`` (default: the
    newest). ``reader``: the operator asking (None: the local CLI). Raises
    NotFound (also for an entry outside the reader's scope, with the same
    message), NoSignedHead, or NotCovered when the head is older than the entry."""
    head = _head(svc, tree_size)
    with svc.uow() as uow:
        row = uow.conn.execute(
            select(
                ledger.c.leaf_index,
                ledger.c.leaf_hash,
                ledger.c.canonical,
                ledger.c.subject_id,
                ledger.c.case_id,
            ).where(ledger.c.seq == seq)
        ).first()
        if row is None or not readable_by(
            uow, reader, subject_id=row.subject_id, case_id=row.case_id
        ):
            raise NotFound(f"no ledger entry with seq {seq}")
        index = int(row.leaf_index)
        if index >= head.tree_size:
            raise NotCovered(
                f"entry seq {seq} (index {index}) is newer than the signed head at size "
                f"{head.tree_size}; sign a new head first"
            )
        path = StoredTree(uow.conn).inclusion_proof(index, head.tree_size)
    return {
        "seq": seq,
        "leaf_index": index,
        "canonical": row.canonical,
        "leaf_hash": bytes(row.leaf_hash).hex(),
        "inclusion_proof": [h.hex() for h in path],
        "tree_head": head.to_json(),
    }


def consistency(svc: Services, first: int, second: int | None = None) -> dict[str, Any]:
    """The consistency proof from size ``first`` to ``second`` (default: the
    newest signed head), with the signed heads at both sizes where they exist.
    Raises InvalidInput for sizes outside ``0 < first <= second <= size``."""
    with svc.uow() as uow:
        tree = StoredTree(uow.conn)
        size = tree.size()
        if second is None:
            latest = latest_head(uow.conn)
            if latest is None:
                raise NoSignedHead("no signed tree head; run 'custos audit head'")
            second = latest.tree_size
        if not 0 < first <= second <= size:
            raise InvalidInput(f"sizes must satisfy 0 < first <= second <= {size}")
        proof = tree.consistency_proof(first, second)
        first_head, second_head = head_at(uow.conn, first), head_at(uow.conn, second)
        roots = {n: tree.root(n).hex() for n in (first, second)}
    return {
        "first": first,
        "second": second,
        "first_root": roots[first],
        "second_root": roots[second],
        "first_head": first_head.to_json() if first_head else None,
        "second_head": second_head.to_json() if second_head else None,
        "consistency_proof": [h.hex() for h in proof],
    }


def check_entry_proof(answer: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """Verify an :func:`entry_with_proof` answer locally: leaf hash from the
    canonical bytes, the inclusion proof against the head's root, and the head's
    signature with ``keys``. Returns the failures (empty: it holds)."""
    failures = []
    head = TreeHead.from_json(answer["tree_head"])
    leaf = merkle.leaf_hash(str(answer["canonical"]).encode("utf-8"))
    if leaf.hex() != answer["leaf_hash"]:
        failures.append("the entry's bytes do not hash to its leaf hash")
    try:
        json.loads(answer["canonical"])
    except ValueError:
        failures.append("the entry is not JSON")
    path = [bytes.fromhex(h) for h in answer["inclusion_proof"]]
    if not merkle.verify_inclusion(
        leaf, int(answer["leaf_index"]), head.tree_size, path, bytes.fromhex(head.root_hash)
    ):
        failures.append(f"the inclusion proof does not lead to the root of size {head.tree_size}")
    public = keys.get(head.key_id)
    if public is None:
        failures.append(f"no public key {head.key_id} to check the head's signature")
    elif not verify_head(head, public):
        failures.append("the tree head's signature does not verify")
    return failures
