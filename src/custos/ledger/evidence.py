"""Evidence packs: one zip per case that an auditor verifies offline with the
ledger public key alone (``custos evidence verify``, :mod:`custos.ledger.pack_check`).

Layout::

    manifest.json          format, case, entry list, attachments
    tree_head.json         a head signed at export time, covering every entry
    entries/<index>.json   the exact RFC 8785 bytes of each ledger entry of the case
    proofs/<index>.json    its inclusion proof against tree_head.json
    keys/<key_id>.pem      the public key that signed the head
    policy.yaml            the policy text whose hash the case froze (if stored)
    case.json              receipts per system, checks, approvals, proofs
    summary.md             the readable story

Exporting appends ``audit:evidence:exported`` to the ledger first: it names the
leaf indexes of the case's entries and the SHA-256 of ``case.json``,
``summary.md`` and ``policy.yaml``, so those files and the completeness of the
entry list are covered by the signed head too.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from sqlalchemy import select

from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Operator
from custos.ledger.heads import key_ring, sign_tree_head
from custos.ledger.policies import policy_text
from custos.ledger.summary import render_summary
from custos.ledger.tree_store import StoredTree
from custos.service.ports import Services
from custos.service.recovery.queries import case_detail
from custos.store.tables import ledger

FORMAT = "custos-evidence/1"
#: A fixed timestamp for zip members: the same content gives the same bytes.
ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_name(index: int) -> str:
    return f"entries/{index:012d}.json"


def proof_name(index: int) -> str:
    return f"proofs/{index:012d}.json"


def export_pack(
    svc: Services, case_id: str, *, reader: Operator | None, actor: str = "cli:local"
) -> bytes:
    """Build the evidence pack of ``case_id`` and return the zip bytes. Records
    the export in the ledger and signs a new tree head. ``reader``: the operator
    asking (None: the local CLI). Raises NotFound for an unknown case and,
    alike and before anything is recorded, for a case outside the reader's
    scope; NoLedgerKey when no signing key exists, also before anything is
    recorded: the ledger never says a pack went out that could not be signed."""
    detail = case_detail(svc, reader, case_id)
    key_ring(svc).active()  # NoLedgerKey now, not after the export is recorded
    with svc.uow() as uow:
        text = policy_text(uow.conn, detail["policy_hash"])
    if text is None and svc.policy.hash == detail["policy_hash"]:
        text = svc.policy.text
    attachments: dict[str, bytes] = {
        "case.json": json.dumps(detail, indent=2, sort_keys=True).encode("utf-8"),
        "summary.md": render_summary(detail, policy_included=text is not None).encode("utf-8"),
    }
    if text is not None:
        attachments["policy.yaml"] = text.encode("utf-8")
    _record_export(svc, case_id, detail["subject"]["id"], attachments, actor)
    head = sign_tree_head(svc)
    key = {k.key_id: k for k in key_ring(svc).all_keys()}[head.key_id]
    members: dict[str, bytes] = {}
    listed = []
    with svc.uow() as uow:
        tree = StoredTree(uow.conn)
        rows = uow.conn.execute(
            select(ledger.c.seq, ledger.c.leaf_index, ledger.c.canonical)
            .where(ledger.c.case_id == case_id, ledger.c.leaf_index < head.tree_size)
            .order_by(ledger.c.seq)
        ).all()
        for seq, index, canonical in rows:
            data = canonical.encode("utf-8")
            path = tree.inclusion_proof(int(index), head.tree_size)
            members[entry_name(index)] = data
            members[proof_name(index)] = _json(
                {
                    "leaf_index": int(index),
                    "tree_size": head.tree_size,
                    "inclusion_proof": [h.hex() for h in path],
                }
            )
            listed.append({"leaf_index": int(index), "seq": int(seq), "file": entry_name(index)})
    members["tree_head.json"] = _json(head.to_json())
    members[f"keys/{key.key_id}.pem"] = key.pem.encode("ascii")
    members.update(attachments)
    manifest = {
        "format": FORMAT,
        "case_id": case_id,
        "policy_hash": detail["policy_hash"],
        "tree_head": "tree_head.json",
        "key": f"keys/{key.key_id}.pem",
        "entries": listed,
        "attachments": {name: sha256_hex(data) for name, data in attachments.items()},
    }
    members["manifest.json"] = _json(manifest)
    return _zip(members)


def _record_export(
    svc: Services, case_id: str, subject_id: str, attachments: dict[str, bytes], actor: str
) -> None:
    with svc.uow() as uow:
        indexes = [
            int(i)
            for i in uow.conn.execute(
                select(ledger.c.leaf_index)
                .where(ledger.c.case_id == case_id)
                .order_by(ledger.c.leaf_index)
            ).scalars()
        ]
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.EVIDENCE_EXPORTED,
                    occurred_at=svc.clock.now(),
                    actor=actor,
                    subject_id=subject_id,
                    case_id=case_id,
                    data={
                        "leaf_indexes": indexes,
                        "files": {n: sha256_hex(d) for n, d in sorted(attachments.items())},
                    },
                )
            ]
        )
        uow.commit()


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode("utf-8")


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name])
    return buffer.getvalue()
