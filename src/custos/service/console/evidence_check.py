"""An evidence pack exported for an auditor in the console, checked at once as
``custos evidence verify`` checks it beside the deployment: with the ledger
public key from the deployment's key folder that matches the pack's head, never
the key inside the pack (docs/console.md#audit, docs/ledger.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from custos.domain.model import Operator
from custos.ledger.evidence import export_pack
from custos.ledger.pack_check import PackReport, head_key_id, trusted_keys, verify_pack
from custos.ledger.proofs import require_ledger_reader
from custos.service.ports import Services


@dataclass(frozen=True, slots=True)
class CheckedPack:
    case_id: str
    data: bytes
    sha256: str
    #: The key the pack's head names, and whether the deployment trusts one by that id.
    key_id: str | None
    key_trusted: bool
    report: PackReport

    @property
    def filename(self) -> str:
        return f"evidence-{self.case_id}.zip"


def export_checked(svc: Services, operator: Operator, case_id: str) -> CheckedPack:
    """Export the case's evidence pack (recorded in the ledger, a new head
    signed) and verify the bytes. Raises NotAuthorized unless ``operator``
    reads the ledger; NotFound for an unknown case or one out of scope (before
    anything is recorded); NoLedgerKey when the ledger has no signing key."""
    require_ledger_reader(operator)
    pack = export_pack(svc, case_id, reader=operator, actor=operator.actor)
    return check_pack(svc, case_id, pack)


def check_pack(svc: Services, case_id: str, pack: bytes) -> CheckedPack:
    """Verify ``pack`` with the deployment's trusted key for its head."""
    wanted = head_key_id(pack)
    keys_dir = svc.settings.effective_ledger_keys_dir
    keys = trusted_keys(keys_dir) if keys_dir.exists() else {}
    public = keys.get(wanted) if wanted is not None else None
    if public is None:
        report = PackReport(case_id=case_id)
        report.failures.append(
            f"no trusted ledger key {wanted} in {keys_dir}"
            if wanted
            else "not a readable evidence pack (no signed head)"
        )
    else:
        report = verify_pack(pack, public)
    return CheckedPack(
        case_id=case_id,
        data=pack,
        sha256=hashlib.sha256(pack).hexdigest(),
        key_id=wanted,
        key_trusted=public is not None,
        report=report,
    )
