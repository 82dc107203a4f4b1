"""Evidence signed under a ledger key that was later rotated out of the active
role still verifies (R-36, R-38): ``custos keys rotate-ledger`` keeps the old
public key in the ring, so ``audit verify``, ``evidence verify`` beside the
deployment and the console's evidence check all accept the old head, and the
case's entries are provable under the new key's heads too."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_helpers import cli, fill, signing_key
from sqlalchemy import select

from conftest import World
from custos.ledger.heads import latest_head
from custos.ledger.pack_check import head_key_id
from custos.service.console.evidence_check import check_pack
from custos.service.recovery import credentials, self_service
from custos.store.tables import ledger

PASSWORD = "marble-lantern-quiver-27-fjord"


@pytest.fixture
def completed(world: World) -> tuple[World, str]:
    world.subject("olivia")
    flow = self_service.start(world.svc, identifier="olivia", source_address="10.0.0.9")
    self_service.request_email_code(world.svc, handle=flow)
    code = world.last_code("olivia")
    self_service.submit_proof(world.svc, handle=flow, method="email_code", response=code)
    token = world.last_link_token("olivia")
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id
    world.drain()
    return world, case_id


def test_evidence_signed_under_a_rotated_ledger_key_still_verifies(
    completed: tuple[World, str], tmp_path: Path
) -> None:
    """R-38: a pack whose head was signed by the old key verifies after the
    rotation (CLI and console check); the ledger stays intact; a new export is
    signed by the new key; an entry of the case is proven under the new head."""
    world, case_id = completed
    old = signing_key(world)
    old_pack = tmp_path / "old.zip"
    exported = cli(world, "evidence", "export", case_id, "-o", str(old_pack))
    assert exported.exit_code == 0, exported.output + exported.stderr
    assert head_key_id(old_pack.read_bytes()) == old.key_id

    rotated = cli(world, "keys", "rotate-ledger")
    assert rotated.exit_code == 0, rotated.output + rotated.stderr
    new_id = rotated.output.split("ledger key ")[1].split()[0]
    assert new_id != old.key_id
    fill(world, 5)  # more history, signed only by the new key from now on

    audit = cli(world, "audit", "head")
    assert audit.exit_code == 0, audit.output + audit.stderr
    verified = cli(world, "audit", "verify")
    assert verified.exit_code == 0, verified.output + verified.stderr
    assert "ledger intact" in verified.output

    checked = cli(world, "evidence", "verify", str(old_pack))
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert f"trusted key {old.key_id} from" in checked.output
    assert f"evidence pack verified: case {case_id}" in checked.output

    console_check = check_pack(world.svc, case_id, old_pack.read_bytes())
    assert console_check.key_trusted and console_check.key_id == old.key_id
    assert console_check.report.ok, console_check.report.failures

    new_pack = tmp_path / "new.zip"
    assert cli(world, "evidence", "export", case_id, "-o", str(new_pack)).exit_code == 0
    assert head_key_id(new_pack.read_bytes()) == new_id
    assert check_pack(world.svc, case_id, new_pack.read_bytes()).report.ok

    with world.svc.engine.connect() as conn:
        first_seq = conn.execute(
            select(ledger.c.seq).where(ledger.c.case_id == case_id).order_by(ledger.c.seq)
        ).scalar()
        head = latest_head(conn)
    assert head is not None and head.key_id == new_id
    proof = cli(world, "audit", "proof", str(first_seq))
    assert proof.exit_code == 0, proof.output + proof.stderr
    assert f"signed by {new_id}" in proof.output
    assert "inclusion proof verified" in proof.output
