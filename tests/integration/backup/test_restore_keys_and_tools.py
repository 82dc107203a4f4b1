"""Backups and the keys and tools around them: a backup made before a
sealing-key rotation restores only with the ring that sealed it (the one the
rotation kept), and a PostgreSQL backup without pg_dump says so plainly."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from sealed_world import open_everything, populate

from conftest import World, make_world, pg_schema
from custos.bootstrap import bootstrap
from custos.keystore.live import LiveKeys
from custos.ledger.heads import key_ring
from custos.service.backup.backup import make_backup
from custos.service.backup.restore import RestoreKeysMissing, restore_backup
from custos.service.keys.sealing_rotation import rotate_sealing_key
from custos.store.backup_postgres import PgToolMissing


def test_a_backup_from_before_a_rotation_needs_the_ring_the_rotation_kept(
    key_file_world: World, tmp_path: Path
) -> None:
    """Refused while the ring lacks the backup's key (naming the kept ring);
    with that ring put back as the key file, the restore opens every value."""
    world = key_file_world
    key_ring(world.svc).ensure(world.clock.now())
    populate(world, subjects=1)
    assert isinstance(world.svc.key, LiveKeys)
    old_id = world.svc.key.current().primary.key_id
    dest = tmp_path / "before-rotation"
    manifest = make_backup(world.svc, dest)
    assert set(manifest.facts.sealing_key_ids) == {old_id}
    report = rotate_sealing_key(world.svc, world.svc.key, settle_s=0)
    kept = Path(str(report.retired_copy))

    with pytest.raises(RestoreKeysMissing) as refused:
        restore_backup(world.svc, dest)
    assert old_id in refused.value.message and str(kept) in refused.value.message
    cli = run_cli(world, "restore", str(dest))
    assert cli.exit_code == 1 and "restore_keys_missing" in cli.stderr

    key_file = world.svc.settings.effective_key_file
    shutil.copy2(kept, key_file)  # the operator puts the old ring back
    svc = bootstrap(world.svc.settings, clock=world.clock)
    restored = restore_backup(svc, dest)
    assert restored.ok, (restored.notes, restored.audit)
    assert open_everything(svc) == sum(manifest.facts.sealing_key_ids.values())


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[World]:
    with pg_schema() as url:
        world = make_world(url, tmp_path)
        yield world
        world.svc.engine.dispose()


def test_a_postgresql_backup_without_pg_dump_says_what_to_install(
    pg_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    dest = tmp_path / "backup"
    with pytest.raises(PgToolMissing) as missing:
        make_backup(pg_world.svc, dest)
    assert missing.value.error_id == "pg_dump_missing"
    assert "'pg_dump' is not installed here" in missing.value.message
    assert "postgresql-client" in missing.value.message
    assert not (dest / "manifest.json").exists()
    cli = run_cli(pg_world, "backup", str(tmp_path / "again"))
    assert cli.exit_code == 1 and "pg_dump_missing" in cli.stderr
