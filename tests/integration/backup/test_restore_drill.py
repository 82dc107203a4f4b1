"""Backup and restore drills on SQLite and PostgreSQL (R-38): work, back up,
more work, restore, verify. Every case, receipt and ledger entry up to the
backup is back and verifies; a consistency proof links the last head signed
before the backup to the head signed after the restore; a restore that would
roll back past a seen head is refused unless forced, saying what is lost."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_cli
from sqlalchemy import Connection, select, text

from conftest import World, make_world, pg_database
from custos.domain.events import DomainEvent, EventType
from custos.ledger.heads import key_ring, sign_tree_head
from custos.ledger.pack_check import verify_pack
from custos.service.backup.backup import BackupTargetInvalid, make_backup
from custos.service.backup.manifest import BackupInvalid
from custos.service.backup.restore import RestoreForksLedger, RestoreRollback, restore_backup
from custos.service.recovery import credentials, self_service
from custos.store.tables import cases, ledger, receipts, tree_heads

PASSWORD = "marble-lantern-quiver-27-fjord"


def recover(world: World, name: str) -> str:
    """A self-service recovery of ``name``, proofed, redeemed and propagated."""
    world.subject(name)
    flow = self_service.start(world.svc, identifier=name, source_address="10.0.0.9")
    self_service.request_email_code(world.svc, handle=flow)
    code = world.last_code(name)
    self_service.submit_proof(world.svc, handle=flow, method="email_code", response=code)
    token = world.last_link_token(name)
    case_id = credentials.redeem(world.svc, token=token, new_password=PASSWORD).case_id
    world.drain()
    return case_id


def snapshot(world: World) -> dict[str, list[Any]]:
    """Every case, receipt and ledger entry, as plain rows."""
    with world.svc.engine.connect() as conn:
        return {
            "cases": [
                tuple(r)
                for r in conn.execute(select(cases.c.id, cases.c.state).order_by(cases.c.id))
            ],
            "receipts": [
                tuple(r)
                for r in conn.execute(
                    select(receipts.c.id, receipts.c.case_id, receipts.c.state).order_by(
                        receipts.c.id
                    )
                )
            ],
            "ledger": [
                tuple(r)
                for r in conn.execute(
                    select(ledger.c.seq, ledger.c.leaf_index, ledger.c.canonical).order_by(
                        ledger.c.seq
                    )
                )
            ],
        }


def rows(conn: Connection, *columns: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(select(*columns).order_by(columns[0]))]


@pytest.fixture
def signed(world: World) -> World:
    """A World with a ledger signing key (as the demo and deployments have)."""
    key_ring(world.svc).ensure(world.clock.now())
    return world


def test_restore_drill_brings_back_everything_up_to_the_backup(
    signed: World, tmp_path: Path
) -> None:
    """Work, back up (CLI), more work (not yet signed: nothing seen is lost),
    restore (CLI), audit verify (CLI): the state at the backup, verified."""
    world = signed
    first = [recover(world, "olivia"), recover(world, "peter")]
    at_backup = snapshot(world)
    dest = tmp_path / "backups" / "monday"
    made = run_cli(world, "backup", str(dest))
    assert made.exit_code == 0, made.output + made.stderr
    assert "backup written to" in made.output
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["facts"]["cases"] == 2
    assert manifest["facts"]["ledger_size"] == len(at_backup["ledger"])
    assert manifest["facts"]["head"]["tree_size"] == len(at_backup["ledger"])

    later = recover(world, "quentin")  # more work after the backup
    assert len(snapshot(world)["cases"]) == 3

    restored = run_cli(world, "restore", str(dest))
    assert restored.exit_code == 0, restored.output + restored.stderr
    out = restored.output.replace("\n", " ")
    assert "lost: the backup ends the ledger" in out and later in out
    assert "consistency proof (last head signed before the backup)" in out
    assert ": consistent" in out
    assert "audit verify: ledger intact" in out
    assert "saved in" in out

    after = snapshot(world)
    assert after["cases"] == at_backup["cases"]
    assert after["receipts"] == at_backup["receipts"]
    assert after["ledger"][: len(at_backup["ledger"])] == at_backup["ledger"]
    types = [json.loads(row[2])["type"] for row in after["ledger"][len(at_backup["ledger"]) :]]
    assert types == ["admin:database:restored", "audit:ledger:verified"]

    verify = run_cli(world, "audit", "verify")
    assert verify.exit_code == 0, verify.output + verify.stderr
    for case_id in first:  # each case's evidence, receipts included, verifies
        pack = tmp_path / f"{case_id}.zip"
        assert run_cli(world, "evidence", "export", case_id, "-o", str(pack)).exit_code == 0
        report = verify_pack(pack.read_bytes(), key_ring(world.svc).active().public)
        assert report.ok, report.failures


def test_restore_past_a_seen_head_is_refused_unless_forced(signed: World, tmp_path: Path) -> None:
    """After the backup a head is signed and witnessed: the restore would drop
    history someone holds a signature for. Refused (nothing changes) with the
    count and the cases; forced, the loss is in the ledger and audit verify
    reports the witnessed heads past the restored ledger."""
    world = signed
    witness = tmp_path / "witness.jsonl"
    world.svc.settings = world.svc.settings.model_copy(update={"ledger_witness_file": witness})
    recover(world, "olivia")
    dest = tmp_path / "backup"
    manifest = make_backup(world.svc, dest)
    later = recover(world, "quentin")
    seen = sign_tree_head(world.svc)
    before = snapshot(world)

    with pytest.raises(RestoreRollback) as refused:
        restore_backup(world.svc, dest)
    message = refused.value.message
    lost = seen.tree_size - manifest.facts.ledger_size
    assert f"{lost} later entries would be lost" in message or "later entries" in message
    assert later in message and f"seen at size {seen.tree_size}" in message
    assert "--force" in message
    assert snapshot(world) == before
    assert not list(world.svc.settings.data_dir.glob("pre-restore-*"))

    refused_cli = run_cli(world, "restore", str(dest))
    assert refused_cli.exit_code == 1
    assert "restore_rollback" in refused_cli.stderr

    report = restore_backup(world.svc, dest, force=True)
    assert report.loss is not None and report.loss.witnessed is not None
    assert later in report.loss.cases
    assert report.proofs and all(p.ok for p in report.proofs)
    assert report.audit is not None and not report.audit.ok
    assert {p.kind for p in report.audit.problems} >= {"truncated"}
    with world.svc.engine.connect() as conn:
        event = json.loads(
            conn.execute(
                select(ledger.c.canonical).where(ledger.c.type == "admin:database:restored")
            ).scalar_one()
        )
    assert event["data"]["forced"] is True
    assert event["data"]["lost"]["cases"] == [later]
    assert event["data"]["lost"]["witnessed_size"] == seen.tree_size
    assert event["reason"] == "forced past a seen head"


def test_heads_seen_after_the_backup_that_fit_are_kept(signed: World, tmp_path: Path) -> None:
    """A head signed after the backup at the backup's size is seen history the
    restored ledger holds: it goes back into tree_heads, so audit verify finds
    every witnessed head."""
    world = signed
    witness = tmp_path / "witness.jsonl"
    world.svc.settings = world.svc.settings.model_copy(update={"ledger_witness_file": witness})
    recover(world, "olivia")
    dest = tmp_path / "backup"
    make_backup(world.svc, dest, record=False)  # nothing appended after the copy
    world.clock.advance(timedelta(minutes=5))
    again = sign_tree_head(world.svc)  # same size, signed later: not in the backup
    report = restore_backup(world.svc, dest)
    assert report.loss is None
    assert report.reinserted_heads == 1
    with world.svc.engine.connect() as conn:
        signatures = set(conn.execute(select(tree_heads.c.signature)).scalars())
    assert again.signature in signatures
    assert report.audit is not None
    assert report.audit.ok, report.audit.problems


def test_a_damaged_or_foreign_backup_is_refused_before_anything_changes(
    signed: World, tmp_path: Path
) -> None:
    world = signed
    recover(world, "olivia")
    dest = tmp_path / "backup"
    manifest = make_backup(world.svc, dest)
    before = snapshot(world)
    copy = dest / manifest.file
    damaged = tmp_path / "damaged"
    shutil.copytree(dest, damaged)
    with (damaged / manifest.file).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BackupInvalid, match="does not match its manifest"):
        restore_backup(world.svc, damaged)
    other = "postgresql" if manifest.backend == "sqlite" else "sqlite"
    foreign = tmp_path / "foreign"
    shutil.copytree(dest, foreign)
    data = json.loads((foreign / "manifest.json").read_text())
    data["backend"] = other
    data["file"] = {"sqlite": "custos.db", "postgresql": "custos.pgdump"}[other]
    (foreign / manifest.file).rename(foreign / data["file"])
    (foreign / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BackupInvalid, match=f"backup is of a {other} database"):
        restore_backup(world.svc, foreign)
    if manifest.backend == "postgresql":  # a dump of another schema would land beside
        elsewhere = tmp_path / "elsewhere"
        shutil.copytree(dest, elsewhere)
        data = json.loads((elsewhere / "manifest.json").read_text())
        (elsewhere / "manifest.json").write_text(json.dumps({**data, "schema": "elsewhere"}))
        with pytest.raises(BackupInvalid, match="the backup holds schema 'elsewhere'"):
            restore_backup(world.svc, elsewhere)
    with pytest.raises(BackupTargetInvalid, match="not an empty folder"):
        make_backup(world.svc, dest)
    assert snapshot(world) == before
    assert copy.exists()


def test_a_backup_of_another_ledger_is_refused_and_changes_nothing(
    signed: World, tmp_path: Path
) -> None:
    """A backup of another deployment: its ledger is not the history this
    one's seen heads signed (``restore_forks_ledger``); the database is put back."""
    world = signed
    recover(world, "olivia")
    sign_tree_head(world.svc)
    before = snapshot(world)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with contextlib.ExitStack() as stack:
        if world.svc.engine.dialect.name == "sqlite":
            url = f"sqlite:///{other_dir / 'custos.db'}"
        else:
            url = stack.enter_context(pg_database())
        other = make_world(url, other_dir)
        key_ring(other.svc).ensure(other.clock.now())
        for name in ("xavier", "yolanda", "zeno"):  # a longer, different ledger
            recover(other, name)
        dest = tmp_path / "foreign"
        make_backup(other.svc, dest)
        other.svc.engine.dispose()
    with pytest.raises(RestoreForksLedger) as refused:
        restore_backup(world.svc, dest)
    assert "put back as it was" in refused.value.message
    assert snapshot(world) == before
    verify = run_cli(world, "audit", "verify")
    assert verify.exit_code == 0, verify.output + verify.stderr


def test_a_backup_taken_while_writes_continue_is_one_consistent_state(
    signed: World, tmp_path: Path
) -> None:
    """Online: ledger entries keep being appended while the backup runs; the
    copy is one snapshot (its manifest's size and root are the copy's, which
    the restore checks) and restores to a ledger that verifies."""
    world = signed
    recover(world, "olivia")
    stop = threading.Event()
    written = {"n": 0}

    def keep_writing() -> None:
        while not stop.is_set():
            with world.svc.uow() as uow:
                uow.ledger.append(
                    [
                        DomainEvent(
                            type=EventType.NOTIFICATION_SENT,
                            occurred_at=world.clock.now(),
                            actor="test:writer",
                            subject_id="olivia",
                            case_id=None,
                            data={"n": written["n"]},
                        )
                    ]
                )
                uow.commit()
            written["n"] += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while written["n"] < 3:
            time.sleep(0.01)
        manifest = make_backup(world.svc, tmp_path / "busy")
        at_backup = written["n"]
        while written["n"] < at_backup + 3:  # writes went on after the copy
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    report = restore_backup(world.svc, tmp_path / "busy")
    assert report.restored.ledger_size == manifest.facts.ledger_size
    assert report.loss is not None and report.loss.entries >= 3
    assert report.ok, (report.notes, report.audit)


def test_restore_after_losing_the_database(signed: World, tmp_path: Path) -> None:
    """Disaster recovery: the database is gone (an empty file or schema), the
    witness file remains. Its heads past the backup still refuse a silent
    rollback (which cases cannot be told any more); forced, the backup is back
    and its evidence verifies."""
    world = signed
    witness = tmp_path / "witness.jsonl"
    world.svc.settings = world.svc.settings.model_copy(update={"ledger_witness_file": witness})
    case_id = recover(world, "olivia")
    dest = tmp_path / "backup"
    manifest = make_backup(world.svc, dest)
    recover(world, "quentin")
    seen = sign_tree_head(world.svc)
    world.svc.engine.dispose()
    if world.svc.engine.dialect.name == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{world.svc.engine.url.database}{suffix}").unlink(missing_ok=True)
    else:
        with world.svc.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            schema = c.execute(text("SELECT current_schema()")).scalar_one()
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        world.svc.engine.dispose()

    refused = run_cli(world, "restore", str(dest))
    assert refused.exit_code == 1, refused.output
    message = " ".join(refused.stderr.split())
    assert "restore_rollback" in message
    assert f"seen at size {seen.tree_size}" in message
    assert "which cases cannot be told" in message

    report = restore_backup(world.svc, dest, force=True)
    assert report.safety_copy is None  # nothing to save
    assert report.loss is not None and not report.loss.known
    assert report.restored.cases == manifest.facts.cases == 1
    assert report.proofs and all(p.ok for p in report.proofs)
    pack = tmp_path / "olivia.zip"
    assert run_cli(world, "evidence", "export", case_id, "-o", str(pack)).exit_code == 0
    assert verify_pack(pack.read_bytes(), key_ring(world.svc).active().public).ok
