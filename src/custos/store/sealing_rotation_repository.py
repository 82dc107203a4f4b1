"""The progress of sealing-key rotations (``sealing_rotations``): at most one
running; its cursors and counts are written in the transaction of each batch
it re-seals, so a rotation stopped at any point resumes after the last
committed batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from custos.store.mapping import aware, maybe_aware
from custos.store.tables import sealing_rotations

RUNNING = "running"
FINISHED = "finished"
#: Claimed, but stopped before the key store held the new key: nothing used it.
ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class Rotation:
    id: int
    new_key_id: str
    old_key_ids: list[str]
    retired_copy: str | None
    state: str
    #: Per sealed column (``table.column``): the last key re-sealed in this
    #: pass, ``None`` before the first batch.
    cursors: dict[str, Any]
    #: Per sealed column: values re-sealed so far.
    resealed: dict[str, int]
    started_by: str
    started_at: datetime
    finished_at: datetime | None


def _rotation(r: Any) -> Rotation:
    return Rotation(
        id=int(r.id),
        new_key_id=r.new_key_id,
        old_key_ids=list(r.old_key_ids),
        retired_copy=r.retired_copy,
        state=r.state,
        cursors=dict(r.cursors),
        resealed={k: int(v) for k, v in dict(r.resealed).items()},
        started_by=r.started_by,
        started_at=aware(r.started_at),
        finished_at=maybe_aware(r.finished_at),
    )


def running(conn: Connection) -> Rotation | None:
    """The rotation under way, or None."""
    row = conn.execute(
        select(sealing_rotations)
        .where(sealing_rotations.c.state == RUNNING)
        .order_by(sealing_rotations.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _rotation(row)


def latest(conn: Connection) -> Rotation | None:
    """The newest rotation, running or finished, or None."""
    row = conn.execute(
        select(sealing_rotations).order_by(sealing_rotations.c.id.desc()).limit(1)
    ).first()
    return None if row is None else _rotation(row)


def start(
    conn: Connection,
    *,
    new_key_id: str,
    old_key_ids: list[str],
    retired_copy: str | None,
    by: str,
    now: datetime,
) -> Rotation:
    result = conn.execute(
        insert(sealing_rotations).values(
            new_key_id=new_key_id,
            old_key_ids=old_key_ids,
            retired_copy=retired_copy,
            state=RUNNING,
            cursors={},
            resealed={},
            started_by=by[:200],
            started_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    row = conn.execute(select(sealing_rotations).where(sealing_rotations.c.id == key[0])).one()
    return _rotation(row)


def save_progress(
    conn: Connection, rotation_id: int, *, cursors: dict[str, Any], resealed: dict[str, int]
) -> None:
    conn.execute(
        update(sealing_rotations)
        .where(sealing_rotations.c.id == rotation_id)
        .values(cursors=cursors, resealed=resealed)
    )


def finish(conn: Connection, rotation_id: int, *, now: datetime) -> None:
    conn.execute(
        update(sealing_rotations)
        .where(sealing_rotations.c.id == rotation_id)
        .values(state=FINISHED, finished_at=now)
    )


def abandon(conn: Connection, rotation_id: int, *, now: datetime) -> None:
    conn.execute(
        update(sealing_rotations)
        .where(sealing_rotations.c.id == rotation_id)
        .values(state=ABANDONED, finished_at=now)
    )
