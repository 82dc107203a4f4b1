"""Rate-limit counters changed only by atomic upserts (``INSERT ... ON CONFLICT
DO UPDATE ... WHERE ... RETURNING``), identical on PostgreSQL and SQLite, so the
limits hold across any number of processes sharing one database (R-18, R-20).

Two shapes share the ``rate_limits`` table:

- **attempt counters** (:meth:`reserve_attempt`): consecutive failures. An
  attempt is counted *before* the evidence is checked and the counter is
  cleared on success, so concurrent attempts can never slip past the limit.
- **request windows** (:meth:`take_request`): requests in a fixed window; the
  first ``free`` pass, after that at most one per ``spacing``.

On PostgreSQL the upsert leaves the row locked until the transaction ends, so
a second process waits and then re-evaluates the guard on the committed row;
SQLite serialises every write transaction (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from custos.store.mapping import aware
from custos.store.tables import rate_limits


@dataclass(frozen=True, slots=True)
class Counter:
    key: str
    count: int
    window_start: datetime
    not_before: datetime


class RateLimitRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _insert(self) -> Any:
        module = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        return module.insert(rate_limits)

    def get(self, key: str) -> Counter | None:
        """The counter under ``key``, or None when it was never touched (or cleared)."""
        row = self._conn.execute(select(rate_limits).where(rate_limits.c.key == key)).first()
        if row is None:
            return None
        return Counter(
            key=row.key,
            count=int(row._mapping["count"]),
            window_start=aware(row.window_start),
            not_before=aware(row.not_before),
        )

    def reserve_attempt(self, key: str, *, now: datetime, max_count: int | None) -> int | None:
        """Count one attempt under ``key`` if one is allowed now: the counter's
        ``not_before`` has passed and (with ``max_count``) fewer than ``max_count``
        attempts are counted. Returns the new count, or None when refused (nothing
        is counted then). The caller sets the next delay with :meth:`delay_next`."""
        stmt = self._insert().values(
            key=key, count=1, window_start=now, not_before=now, updated_at=now
        )
        guard = rate_limits.c.not_before <= now
        if max_count is not None:
            guard = guard & (rate_limits.c.count < max_count)
        stmt = stmt.on_conflict_do_update(
            index_elements=[rate_limits.c.key],
            set_={"count": rate_limits.c.count + 1, "updated_at": now},
            where=guard,
        ).returning(rate_limits.c.count)
        row = self._conn.execute(stmt).first()
        return None if row is None else int(row[0])

    def delay_next(self, key: str, *, until: datetime) -> None:
        """No attempt under ``key`` before ``until`` (in the caller's transaction,
        which holds the row since :meth:`reserve_attempt`)."""
        self._conn.execute(
            rate_limits.update().where(rate_limits.c.key == key).values(not_before=until)
        )

    def take_request(
        self,
        key: str,
        *,
        now: datetime,
        window: timedelta,
        free: int,
        spacing: timedelta,
    ) -> int | None:
        """Count one request under ``key`` in a fixed ``window``: allowed when the
        window has lapsed (a new one starts), fewer than ``free`` were counted in
        it, or ``spacing`` has passed since the last allowed one. Returns the count
        in the window, or None when refused (nothing is counted then)."""
        lapsed = rate_limits.c.window_start <= now - window
        stmt = self._insert().values(
            key=key, count=1, window_start=now, not_before=now + spacing, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[rate_limits.c.key],
            set_={
                "count": case((lapsed, 1), else_=rate_limits.c.count + 1),
                "window_start": case((lapsed, now), else_=rate_limits.c.window_start),
                "not_before": now + spacing,
                "updated_at": now,
            },
            where=or_(lapsed, rate_limits.c.count < free, rate_limits.c.not_before <= now),
        ).returning(rate_limits.c.count)
        row = self._conn.execute(stmt).first()
        return None if row is None else int(row[0])

    def clear(self, key: str) -> None:
        """Forget ``key`` (a success ends a run of consecutive failures)."""
        self._conn.execute(rate_limits.delete().where(rate_limits.c.key == key))
