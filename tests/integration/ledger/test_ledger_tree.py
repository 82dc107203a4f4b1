"""The Merkle tree the store keeps (R-38): leaf hashes and complete-subtree
nodes written with each append, proofs served from them, signed heads, the
migration's backfill, and one gap-free order when several processes append at
once on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing as mp
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from ledger_helpers import fill, rows, signing_key, use_settings, witness_path
from sqlalchemy import create_engine, select, text

from conftest import World, pg_schema
from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
from custos.domain.events import DomainEvent, EventType
from custos.ledger import merkle
from custos.ledger.heads import latest_head, sign_tree_head, sign_tree_head_if_due, stored_heads
from custos.ledger.signing import verify_head
from custos.ledger.tree_store import StoredTree
from custos.ledger.verify import verify_ledger
from custos.store.database import upgrade
from custos.store.ledger_repository import canonical_bytes
from custos.store.tables import ledger, ledger_nodes


def _memory_tree(world: World) -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(r.canonical.encode()) for r in rows(world))


def test_append_stores_leaf_hashes_and_every_complete_subtree(world: World) -> None:
    fill(world, 37)
    expected = _memory_tree(world)
    with world.svc.engine.connect() as conn:
        stored = list(conn.execute(select(ledger.c.leaf_index, ledger.c.leaf_hash)))
        nodes = {
            (int(lv), int(p)): bytes(h)
            for lv, p, h in conn.execute(
                select(ledger_nodes.c.level, ledger_nodes.c.position, ledger_nodes.c.hash)
            )
        }
    assert sorted(int(i) for i, _ in stored) == list(range(37))
    assert all(bytes(h) == expected(0, int(i)) for i, h in stored)
    want = {
        (lv, p): expected(lv, p)
        for lv in range(1, len(expected.levels))
        for p in range(len(expected.levels[lv]))
    }
    assert nodes == want


def test_stored_proofs_verify_against_a_signed_head(world: World) -> None:
    fill(world, 45)
    key = signing_key(world)
    head = sign_tree_head(world.svc)
    assert head.tree_size == 45 and verify_head(head, key.public)
    root = bytes.fromhex(head.root_hash)
    assert root == _memory_tree(world).root()
    leaves = {r.leaf_index: merkle.leaf_hash(r.canonical.encode()) for r in rows(world)}
    with world.svc.uow() as uow:
        tree = StoredTree(uow.conn)
        for index in (0, 1, 17, 31, 32, 44):
            path = tree.inclusion_proof(index, 45)
            assert merkle.verify_inclusion(leaves[index], index, 45, path, root)
            assert len(path) <= 6
        for first in (1, 8, 13, 32, 44):
            proof = tree.consistency_proof(first, 45)
            assert merkle.verify_consistency(first, 45, tree.root(first), root, proof)


def test_heads_are_signed_on_schedule_only_when_due_and_published(world: World) -> None:
    from datetime import timedelta

    use_settings(world, ledger_witness_file=witness_path(world), ledger_head_interval_s=60)
    fill(world, 3)
    assert sign_tree_head_if_due(world.svc) == 0  # no key yet: nothing to sign with
    signing_key(world)
    assert sign_tree_head_if_due(world.svc) == 1
    assert sign_tree_head_if_due(world.svc) == 0  # nothing new
    fill(world, 1)
    assert sign_tree_head_if_due(world.svc) == 0  # too soon
    world.clock.advance(timedelta(seconds=61))
    assert sign_tree_head_if_due(world.svc) == 1
    with world.svc.uow() as uow:
        heads = stored_heads(uow.conn)
        assert latest_head(uow.conn) == heads[-1]
    assert [h.tree_size for h in heads] == [3, 4]
    lines = witness_path(world).read_text().splitlines()
    assert [json.loads(line)["tree_size"] for line in lines] == [3, 4]


def _append_many(settings: dict[str, Any], now: str, worker: int, barrier: Any, out: Any) -> None:
    svc = bootstrap(load_settings(None, **settings), clock=ManualClock(datetime.fromisoformat(now)))
    barrier.wait(timeout=120)
    try:
        for i in range(PER_PROCESS):
            with svc.uow() as uow:
                uow.ledger.append(
                    [
                        DomainEvent(
                            type=EventType.NOTIFICATION_SENT,
                            occurred_at=svc.clock.now(),
                            actor=f"worker:{worker}",
                            subject_id=None,
                            case_id=None,
                            data={"worker": worker, "i": i, "part": part},
                        )
                        for part in range(2)
                    ]
                )
                uow.commit()
        out.put("ok")
    except Exception as exc:
        out.put(f"crash:{type(exc).__name__}:{exc}")
    finally:
        svc.engine.dispose()


PROCESSES = 6
PER_PROCESS = 15


def test_appends_from_several_processes_keep_one_gap_free_order(world: World) -> None:
    """R-38 across nodes: concurrent appenders serialise, so leaf indexes are
    gap-free, follow seq, and the stored tree verifies."""
    s = world.svc.settings
    assert s.sealing_key is not None
    settings = {
        "data_dir": s.data_dir,
        "database_url": s.effective_database_url,
        "sealing_key": s.sealing_key.get_secret_value(),
    }
    world.svc.engine.dispose()
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(
            target=_append_many,
            args=(settings, world.clock.now().isoformat(), n, barrier, out),
        )
        for n in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["ok"] * PROCESSES
    stored = rows(world)
    total = PROCESSES * PER_PROCESS * 2
    assert [r.leaf_index for r in stored] == list(range(total))  # seq order == leaf order
    # the two events of one transaction stay adjacent: nothing interleaves a commit
    for a, b in zip(stored[::2], stored[1::2], strict=True):
        da, db = json.loads(a.canonical)["data"], json.loads(b.canonical)["data"]
        assert (da["worker"], da["i"], da["part"], db["part"]) == (db["worker"], db["i"], 0, 1)
    signing_key(world)
    head = sign_tree_head(world.svc)
    assert bytes.fromhex(head.root_hash) == _memory_tree(world).root()
    with world.svc.uow() as uow:
        report = verify_ledger(
            uow.conn, {head.key_id: signing_key(world).public}, stored_heads(uow.conn)
        )
    assert report.ok, report.problems


def _old_schema_with_entries(url: str) -> list[bytes]:
    """A store at revision 0001 holding three entries, as written before 0002."""
    engine = create_engine(url)
    upgrade(engine, "0001")
    now = datetime.fromisoformat("2026-11-25T09:00:00+00:00")
    written = []
    with engine.begin() as conn:
        for n in range(3):
            event = DomainEvent(EventType.NOTIFICATION_SENT, now, "test", None, None, data={"n": n})
            data = canonical_bytes(f"id-{n}", event)
            written.append(data)
            conn.execute(
                text(
                    "INSERT INTO ledger (event_id, type, occurred_at, actor, outcome, canonical) "
                    "VALUES (:id, :type, :at, 'test', 'success', :canonical)"
                ),
                {"id": f"id-{n}", "type": str(event.type), "at": now, "canonical": data.decode()},
            )
    upgrade(engine)
    engine.dispose()
    return written


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_backfills_leaf_hashes_and_nodes(backend: str, tmp_path: Path) -> None:
    def check(url: str) -> None:
        written = _old_schema_with_entries(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            tree = StoredTree(conn)
            assert tree.size() == 3
            assert tree.root(3) == merkle.MemoryTree(merkle.leaf_hash(d) for d in written).root()
        engine.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        with pg_schema() as url:
            check(url)
