"""``custos keys rotate-sealing`` (R-36, R-37): a new sealing key, every sealed
value re-sealed under it online and resumably, the old key ring kept (never
deleted) and out of the live ring at the end, ledger events at start and end."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from cli_runner import run_cli
from kms_key_store import KEK_ENV, KmsWrappedStore
from ledger_json import LedgerEvent, ledger_event
from sealed_world import by_column, hold_notice, not_under_primary, open_everything, populate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from conftest import BACKENDS, World, make_world, pg_schema
from custos.bootstrap import bootstrap
from custos.credentials.keys import MasterKey
from custos.credentials.sealed import SealError
from custos.credentials.sealing_keys import SealingKeys
from custos.keystore.file_store import FileKeyStore
from custos.keystore.live import LiveKeys
from custos.service.console import operator_factors
from custos.service.keys.sealing_rotation import SealingRotationMismatch, rotate_sealing_key
from custos.service.ports import Services
from custos.store import sealed_inventory as inventory
from custos.store import sealing_rotation_repository as rotations
from custos.store.tables import ledger, sealing_rotations


def live(world: World) -> LiveKeys:
    assert isinstance(world.svc.key, LiveKeys)
    return world.svc.key


def another_process(world: World) -> Services:
    """A second Services on the same database and key store, as an API or worker
    process started before the rotation would hold."""
    return bootstrap(world.svc.settings, clock=world.clock)


def key_file(world: World) -> Path:
    return world.svc.settings.effective_key_file


def events(world: World, prefix: str = "admin:sealing_key:") -> list[LedgerEvent]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical)
            .where(ledger.c.type.startswith(prefix))
            .order_by(ledger.c.seq)
        )
        return [ledger_event(r.canonical) for r in rows]


def counts_by_key(world: World) -> dict[str, int]:
    totals: dict[str, int] = {}
    with world.svc.engine.connect() as conn:
        for col in inventory.SEALED_COLUMNS:
            for key_id, n in inventory.count_by_key(conn, col).items():
                totals[key_id] = totals.get(key_id, 0) + n
    return totals


def test_rotation_reseals_every_value_and_keeps_the_old_ring(
    key_file_world: World,
) -> None:
    """Every sealed column is re-sealed, the values still work where they are
    used (propagation, operator sign-in, notices), the old ring is kept beside
    the key file and no longer in it, and the ledger has both events."""
    world = key_file_world
    sealed = populate(world)
    before = by_column(world.svc)
    assert all(before.values()), before  # every column holds something
    old_id = live(world).current().primary.key_id
    old_text = key_file(world).read_text()

    result = run_cli(world, "keys", "rotate-sealing", "--batch", "3", "--settle", "0")
    assert result.exit_code == 0, result.output + result.stderr
    assert "rotation finished" in result.output
    retired = key_file(world).with_name(f"sealing.key.retired-{old_id}")
    assert f"kept at {retired}" in result.output.replace("\n", "")

    ring = live(world).refreshed()
    new_id = ring.primary.key_id
    assert new_id != old_id and ring.readable == ()
    assert counts_by_key(world) == {new_id: sum(before.values())}
    assert by_column(world.svc) == before
    assert retired.read_text() == old_text  # the old ring, kept as it was
    assert SealingKeys.from_text(old_text).primary.to_b64() not in key_file(world).read_text()

    fresh = another_process(world)
    assert open_everything(fresh) == sum(before.values())
    assert world.send_notices() > 0  # queued notices open and go out
    world.drain()  # the worker opens the re-sealed new password and propagates it
    with world.svc.uow() as uow:
        assert uow.cases.get(sealed.case_id).state.value == "completed"
        operator = world.operators["opal"]
        assert operator_factors.check_totp(
            world.svc, uow, operator, sealed.operator_totp.at(world.clock.now()), world.clock.now()
        )

    started, finished = events(world)
    assert started["type"] == "admin:sealing_key:rotation_started"
    assert started["data"]["old_key_ids"] == [old_id]
    assert started["data"]["retired_copy"] == str(retired)
    assert finished["type"] == "admin:sealing_key:rotation_finished"
    assert finished["data"]["retired_key_ids"] == [old_id]
    text = json.dumps([started, finished])
    assert SealingKeys.from_text(old_text).primary.to_b64() not in text
    assert ring.primary.to_b64() not in text
    verify = run_cli(world, "audit", "verify")
    assert verify.exit_code == 0, verify.output + verify.stderr


def test_rotation_while_another_process_reads_and_writes(key_file_world: World) -> None:
    """Between every two batches, a second process opens every sealed value and
    queues a new notice: no read fails, and at the end nothing is under the old
    key, the values written during the rotation included."""
    world = key_file_world
    populate(world, subjects=4, notices_per_subject=3)
    other = another_process(world)
    problems: list[str] = []
    rounds = {"reads": 0, "writes": 0}

    def read_and_write() -> None:
        try:
            rounds["reads"] += open_everything(other)
            with other.uow() as uow:
                hold_notice(other, uow, "subject0", 100 + rounds["writes"])
                uow.commit()
            rounds["writes"] += 1
        except Exception as exc:  # reported below, never swallowed
            problems.append(f"{type(exc).__name__}: {exc}")

    def between_batches() -> None:
        reader = threading.Thread(target=read_and_write)
        reader.start()
        reader.join()

    report = rotate_sealing_key(
        world.svc, live(world), batch=4, settle_s=0, between_batches=between_batches
    )
    assert problems == []
    assert report.finished and rounds["writes"] >= 5
    assert not_under_primary(world.svc) == 0
    assert open_everything(other) == sum(by_column(world.svc).values())


def test_rotation_interrupted_between_batches_resumes(key_file_world: World) -> None:
    """An exception after two batches leaves both keys readable and the
    progress committed; the next run resumes (a ledger event) and finishes."""
    world = key_file_world
    populate(world)
    old_id = live(world).current().primary.key_id
    calls = {"n": 0}

    def crash_after_two() -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        rotate_sealing_key(
            world.svc, live(world), batch=2, settle_s=0, between_batches=crash_after_two
        )
    split = counts_by_key(world)
    new_id = live(world).current().primary.key_id
    assert split[new_id] > 0 and split[old_id] > 0
    fresh = another_process(world)
    assert fresh.key.current().key_ids == (new_id, old_id)
    assert open_everything(fresh) == sum(split.values())
    with world.svc.engine.connect() as conn:
        row = conn.execute(select(sealing_rotations)).one()
    assert row.state == "running" and sum(row.resealed.values()) == split[new_id]

    report = rotate_sealing_key(world.svc, live(world), batch=2, settle_s=0)
    assert report.resumed and report.finished
    assert counts_by_key(world) == {new_id: sum(split.values())}
    assert [e["type"] for e in events(world)] == [
        "admin:sealing_key:rotation_started",
        "admin:sealing_key:rotation_resumed",
        "admin:sealing_key:rotation_finished",
    ]
    assert key_file(world).with_name(f"sealing.key.retired-{old_id}").exists()


def test_rotation_killed_mid_way_resumes(key_file_world: World) -> None:
    """SIGKILL of the rotating process after some batches: the next
    ``keys rotate-sealing`` resumes and nothing stays under the old key."""
    world = key_file_world
    populate(world)
    old_id = live(world).current().primary.key_id
    s = world.svc.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")} | {
        "CUSTOS_DATABASE_URL": s.effective_database_url
    }
    command = [sys.executable, "-m", "custos.cli.main", "--data-dir", str(s.data_dir)]
    process = subprocess.Popen(
        [*command, "keys", "rotate-sealing", "--batch", "1", "--pause", "1", "--settle", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while _resealed(world) < 2:
            assert process.poll() is None, "the rotation ended before it could be killed"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    split = counts_by_key(world)
    assert split.get(old_id, 0) > 0
    done = subprocess.run(
        [*command, "keys", "rotate-sealing", "--settle", "0"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed" in done.stdout and "rotation finished" in done.stdout
    new_id = live(world).refreshed().primary.key_id
    assert counts_by_key(world) == {new_id: sum(split.values())}
    assert key_file(world).with_name(f"sealing.key.retired-{old_id}").exists()


def _resealed(world: World) -> int:
    with world.svc.engine.connect() as conn:
        row = conn.execute(select(sealing_rotations.c.resealed)).first()
    return 0 if row is None else sum(row.resealed.values())


def test_batches_option_stops_with_both_keys_readable(key_file_world: World) -> None:
    world = key_file_world
    populate(world)
    old_id = live(world).current().primary.key_id
    first = run_cli(world, "keys", "rotate-sealing", "--batch", "2", "--batches", "1")
    assert first.exit_code == 0, first.output + first.stderr
    assert "stopped after 1 batch(es)" in first.output
    status = run_cli(world, "keys", "status")
    assert f"also opens: {old_id}" in status.output
    assert "running" in status.output
    rest = run_cli(world, "keys", "rotate-sealing", "--settle", "0")
    assert rest.exit_code == 0 and "rotation finished" in rest.output
    status = json.loads(run_cli(world, "keys", "status", "--json").output)
    assert status["readable_key_ids"] == [] and status["rotation"]["state"] == "finished"
    assert all(list(v) == [status["primary_key_id"]] for v in status["sealed_values"].values())


def test_a_key_from_the_environment_is_not_rotated(world: World) -> None:
    """Custos cannot write the environment: refused before anything changes."""
    populate(world, subjects=1)
    before = counts_by_key(world)
    assert world.svc.settings.sealing_key is not None
    result = run_cli(world, "keys", "rotate-sealing")
    assert result.exit_code == 1
    assert "key_store_read_only" in result.stderr
    assert counts_by_key(world) == before
    assert events(world) == []
    with world.svc.engine.connect() as conn:
        assert conn.execute(select(sealing_rotations)).first() is None


def test_values_sealed_under_a_retired_key_fail_naming_the_key(key_file_world: World) -> None:
    """After the rotation, the new ring alone opens nothing sealed under the old
    key (a value from before the rotation, e.g. in an old backup)."""
    world = key_file_world
    old_blob = world.svc.sealer.seal("from before", aad="case-x")
    old_id = live(world).current().primary.key_id
    rotate_sealing_key(world.svc, live(world), settle_s=0)
    fresh = another_process(world)
    with pytest.raises(SealError, match=old_id):
        fresh.sealer.unseal(old_blob, aad="case-x")
    kept = FileKeyStore(key_file(world).with_name(f"sealing.key.retired-{old_id}"))
    assert kept.load().primary.key_id == old_id


@pytest.fixture(params=BACKENDS)
def kms_world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """A World whose sealing keys live in the test KMS plug-in (tests/kms_key_store.py)."""
    kek = secrets.token_bytes(32)
    monkeypatch.setenv(KEK_ENV, base64.b64encode(kek).decode())
    KmsWrappedStore(tmp_path / "sealing-keys.wrapped", kek).save(
        SealingKeys(primary=MasterKey.generate())
    )
    plugin = "kms_key_store:store"
    if request.param == "sqlite":
        w = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, sealing_key_store=plugin)
        yield w
        w.svc.engine.dispose()
        return
    with pg_schema() as url:
        w = make_world(url, tmp_path, sealing_key_store=plugin)
        yield w
        w.svc.engine.dispose()


def test_rotation_through_a_kms_key_store_plugin(kms_world: World) -> None:
    """The KMS seam: a plug-in store named in the configuration is rotated like
    the file; the old ring is kept where the plug-in says, wrapped."""
    world = kms_world
    populate(world, subjects=1)
    store = live(world).store
    assert isinstance(store, KmsWrappedStore)
    old = live(world).current()
    report = rotate_sealing_key(world.svc, live(world), settle_s=0)
    assert report.finished
    assert report.retired_copy == (
        f"test KMS, wrapped ring in {store.path}.retired-{old.primary.key_id}"
    )
    assert old.primary.to_b64() not in store.path.read_text()
    assert counts_by_key(world) == {
        live(world).current().primary.key_id: sum(by_column(world.svc).values())
    }
    assert open_everything(another_process(world)) > 0


def test_a_start_that_never_reached_the_key_store_is_given_up(key_file_world: World) -> None:
    """Claimed in the database, stopped before the store held the new key: no
    value can be under that key, so the next run abandons the claim and
    rotates afresh."""
    world = key_file_world
    populate(world, subjects=1)
    old_id = live(world).current().primary.key_id
    with world.svc.uow() as uow:
        rotations.start(
            uow.conn,
            new_key_id="00" * 8,
            old_key_ids=[old_id],
            retired_copy=None,
            by="test",
            now=world.clock.now(),
        )
        uow.commit()
    report = rotate_sealing_key(world.svc, live(world), settle_s=0)
    assert report.finished and not report.resumed
    with world.svc.engine.connect() as conn:
        states = [r.state for r in conn.execute(select(sealing_rotations).order_by("id"))]
    assert states == ["abandoned", "finished"]
    assert not_under_primary(world.svc) == 0


def test_one_rotation_at_a_time_is_held_by_the_database(key_file_world: World) -> None:
    world = key_file_world
    claim = partial(
        rotations.start,
        old_key_ids=["22" * 8],
        retired_copy=None,
        by="test",
        now=world.clock.now(),
    )
    with world.svc.uow() as uow:
        claim(uow.conn, new_key_id="11" * 8)
        uow.commit()
    with pytest.raises(IntegrityError), world.svc.uow() as uow:
        claim(uow.conn, new_key_id="33" * 8)
        uow.commit()
    with pytest.raises(SealingRotationMismatch, match="put back the ring it wrote"):
        rotate_sealing_key(world.svc, live(world), settle_s=0)
