"""Expand then contract for holds (migration 0017): while the previous release
may run beside this one, ``subjects.holds`` (which it reads) follows the holds
standing on each subject (docs/operations.md, "Upgrades")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from conftest import World
from custos.domain.model import Hold
from custos.store.tables import holds, subjects


def _column(world: World, subject_id: str) -> list[str]:
    with world.svc.engine.connect() as conn:
        value = conn.execute(select(subjects.c.holds).where(subjects.c.id == subject_id)).scalar()
    assert isinstance(value, list)
    return [str(v) for v in value]


def _hold_ids(world: World, subject_id: str) -> dict[str, str]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(holds.c.kind, holds.c.id).where(holds.c.subject_id == subject_id)
        )
        return {r.kind: r.id for r in rows}


def test_subject_holds_column_follows_holds_set_and_lifted(world: World) -> None:
    """A new subject gets []; a hold set shows in the column; a lift takes it out."""
    world.subject("free")
    assert _column(world, "free") == []
    world.subject("dora", holds=(Hold.LEGAL_HOLD, Hold.FRAUD))
    assert _column(world, "dora") == ["fraud", "legal_hold"]
    now, fraud = world.clock.now(), _hold_ids(world, "dora")["fraud"]
    with world.svc.uow() as uow:
        assert uow.holds.lift(fraud, by="op:ada", person=None, at=now, reason="ok")
        uow.commit()
    assert _column(world, "dora") == ["legal_hold"]


def test_subject_holds_column_drops_a_hold_once_its_expiry_is_recorded(world: World) -> None:
    world.subject("erin", holds=(Hold.INCIDENT_FREEZE,))
    hold_id = _hold_ids(world, "erin")["incident_freeze"]
    later = world.clock.now() + timedelta(days=1)
    with world.svc.uow() as uow:
        uow.conn.execute(holds.update().where(holds.c.id == hold_id).values(ends_at=later))
        assert uow.holds.record_expiry(hold_id, at=later)
        uow.commit()
    assert _column(world, "erin") == []
