"""The outbox sweep's claim (``OutboxRepository.claim_due``: due rows in
``(lease_until, id)`` order, R-22's at-least-once notices) reads them from the
index ``ix_notice_outbox_lease_until_id`` (migration 0028) in that order, so
SQLite no longer sorts a batch's notices (all due at the same time) by id
before taking the first ones; the claim still takes them oldest id first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect, select

from conftest import World
from custos.store.database import is_sqlite
from custos.store.outbox_repository import OutboxRow
from custos.store.tables import notice_outbox


def test_the_outbox_claim_reads_the_composite_index_in_order(world: World) -> None:
    with world.svc.engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("notice_outbox")}
        assert indexes.get("ix_notice_outbox_lease_until_id") == ["lease_until", "id"]
        assert "ix_notice_outbox_lease_until" not in indexes
        if is_sqlite(world.svc.engine):
            c = notice_outbox.c
            query = (
                select(c.id, c.channel, c.subject_id, c.sealed, c.queued_at)
                .where(c.lease_until <= world.clock.now())
                .order_by(c.lease_until, c.id)
                .limit(200)
            )
            compiled = query.compile(conn)
            plan = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
            ).all()
            details = " ".join(str(row[-1]) for row in plan)
            assert "ix_notice_outbox_lease_until_id" in details
            assert "TEMP B-TREE" not in details
    now = world.clock.now()
    rows = [
        OutboxRow(f"00000000-0000-0000-0000-{n:012d}", "email", None, b"x", now) for n in range(5)
    ]
    with world.svc.uow() as uow:
        uow.outbox.add_many(rows[::-1], due_at=now)  # written newest id first
        uow.commit()
    with world.svc.uow() as uow:
        claimed = uow.outbox.claim_due(now=now, until=now + timedelta(minutes=5), limit=3)
        uow.commit()
    assert [r.id for r in claimed] == [r.id for r in rows[:3]]
