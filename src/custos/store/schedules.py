"""Periodic jobs that any of several workers may run, but only one per interval:
the last run of each job is a row in ``schedules``, claimed with a conditional
update so two workers that find the job due at once cannot both win."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from custos.store.tables import schedules


def claim_run(engine: Engine, name: str, *, now: datetime, interval_s: float, owner: str) -> bool:
    """True when the caller may run job ``name`` now: its last run started at
    least ``interval_s`` before ``now`` (or it never ran), and this call recorded
    ``now`` as the new last run. Exactly one of several concurrent callers wins:
    the update re-checks the condition on the row it locks (PostgreSQL read
    committed, SQLite's single writer), and the first run's insert is guarded by
    the primary key."""
    due_before = now - timedelta(seconds=interval_s)
    with engine.begin() as conn:
        won = conn.execute(
            update(schedules)
            .where(schedules.c.name == name, schedules.c.last_run_at <= due_before)
            .values(last_run_at=now, claimed_by=owner)
        ).rowcount
    if won:
        return True
    try:
        with engine.begin() as conn:
            exists = conn.execute(schedules.select().where(schedules.c.name == name)).first()
            if exists is not None:
                return False  # ran within the interval
            conn.execute(insert(schedules).values(name=name, last_run_at=now, claimed_by=owner))
    except IntegrityError:
        return False  # another worker inserted the first run at the same moment
    return True
