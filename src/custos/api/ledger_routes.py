"""Ledger endpoints (R-38): signed heads, entries with inclusion proofs,
consistency proofs and evidence packs, for the admin and auditor roles only;
the public keys for everyone. Nothing here changes or deletes the ledger."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.schemas import MAX_LEDGER_SIZE
from custos.ledger import proofs
from custos.ledger.heads import key_ring

router = APIRouter(prefix="/api/v1", tags=["ledger"])


@router.get("/ledger/keys")
def ledger_keys(svc: ServicesDep) -> dict[str, Any]:
    """The public keys that sign tree heads (newest last), as PEM."""
    keys = key_ring(svc).all_keys()
    return {
        "keys": [
            {
                "key_id": k.key_id,
                "created_at": k.created_at,
                "algorithm": "Ed25519",
                "active": i == len(keys) - 1,
                "public_key_pem": k.pem,
            }
            for i, k in enumerate(keys)
        ]
    }


@router.get("/ledger/heads/latest")
def latest_head(svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    proofs.require_ledger_reader(operator)
    return proofs.latest_signed_head(svc)


@router.get("/ledger/entries/{seq}")
def entry(
    svc: ServicesDep,
    operator: OperatorDep,
    seq: int = Path(ge=1, le=MAX_LEDGER_SIZE),
    tree_size: int | None = Query(default=None, ge=1, le=MAX_LEDGER_SIZE),
) -> dict[str, Any]:
    """The entry and its inclusion proof against the signed head at
    ``tree_size`` (default: the newest signed head). An entry about a subject
    outside the operator's scope answers 404 as a missing one."""
    proofs.require_ledger_reader(operator)
    return proofs.entry_with_proof(svc, seq, reader=operator, tree_size=tree_size)


@router.get("/ledger/consistency")
def consistency(
    svc: ServicesDep,
    operator: OperatorDep,
    first: int = Query(ge=1, le=MAX_LEDGER_SIZE),
    second: int | None = Query(default=None, ge=1, le=MAX_LEDGER_SIZE),
) -> dict[str, Any]:
    proofs.require_ledger_reader(operator)
    return proofs.consistency(svc, first, second)


@router.post(
    "/cases/{case_id}/evidence",
    response_class=Response,
    responses={
        200: {
            "description": "The evidence pack",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def evidence(case_id: str, svc: ServicesDep, operator: OperatorDep) -> Response:
    """Build the case's evidence pack (a zip that verifies offline). A POST: the
    export is recorded in the ledger and signs a new tree head. A case outside
    the operator's scope answers 404 as an unknown one."""
    from custos.ledger.evidence import export_pack

    proofs.require_ledger_reader(operator)
    pack = export_pack(svc, case_id, reader=operator, actor=operator.actor)
    return Response(
        pack,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{case_id}.zip"'},
    )
