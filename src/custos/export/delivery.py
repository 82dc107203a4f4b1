"""At-least-once delivery of ledger entries to every configured sink.

Each sink has a cursor (``export_cursors.last_seq``): the ledger position up to
which the sink acknowledged. A pass reads the next batch after the cursor, sends
it, and advances the cursor only after the sink acknowledged; a crash between
the two resends that one batch after a restart (duplicates carry the same event
id), and nothing is ever skipped.

Only *settled* entries are read: on PostgreSQL a sequence number can be taken by
a transaction that commits after a later one, so a pass first waits, under a
brief ``SHARE`` lock on the ledger, until every transaction that is writing to
it has finished, and reads no further than the highest position seen then. On
SQLite writers are serialised, so commit order is ledger order.

Several exporters (workers, ``custos export run``) may run at once: on
PostgreSQL the cursor row is locked while its batch is in flight (others skip
the sink); everywhere the cursor only moves forward. A sink that fails waits
with exponential backoff (per process, by the service clock).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from custos.export.ocsf import to_ocsf
from custos.export.sinks import Outgoing, Sink, SinkError, make_sink
from custos.service.ports import Services
from custos.store.database import is_sqlite
from custos.store.mapping import maybe_aware
from custos.store.tables import export_cursors, ledger

log = structlog.get_logger("custos.export")


@dataclass
class _Backoff:
    failures: int = 0
    next_at: datetime | None = None


@dataclass
class Exporter:
    """Delivers to the sinks of ``svc.settings.siem``; holds per-sink backoff."""

    svc: Services
    sinks: dict[str, Sink] = field(default_factory=dict)
    backoff: dict[str, _Backoff] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sinks:
            self.sinks = {n: make_sink(c) for n, c in self.svc.settings.siem.sinks.items()}

    def run_once(self, *, force: bool = False) -> int:
        """One batch per sink whose backoff is over (``force``: ignore backoff).
        Returns how many events were acknowledged in total; never raises SinkError."""
        now = self.svc.clock.now()
        delivered = 0
        for name, sink in self.sinks.items():
            state = self.backoff.setdefault(name, _Backoff())
            if not force and state.next_at is not None and now < state.next_at:
                continue
            try:
                delivered += deliver_batch(self.svc, name, sink)
            except SinkError as exc:
                state.failures += 1
                cfg = self.svc.settings.siem
                delay = min(cfg.backoff_base_s * 2 ** (state.failures - 1), cfg.backoff_max_s)
                state.next_at = now + timedelta(seconds=delay)
                log.warning("export_failed", sink=name, error=str(exc), retry_in_s=delay)
            else:
                state.failures, state.next_at = 0, None
        return delivered


_EXPORTERS: dict[int, Exporter] = {}


def exporter_for(svc: Services) -> Exporter:
    """The exporter bound to ``svc`` (created on first use, dropped with ``svc``)."""
    key = id(svc)
    if key not in _EXPORTERS:
        _EXPORTERS[key] = Exporter(svc)
        weakref.finalize(svc, _EXPORTERS.pop, key, None)
    return _EXPORTERS[key]


def export_due(svc: Services) -> int:
    """The worker's export step: one batch per due sink; returns events acknowledged."""
    if not svc.settings.siem.sinks:
        return 0
    return exporter_for(svc).run_once()


def deliver_batch(svc: Services, name: str, sink: Sink) -> int:
    """Send the next batch after ``name``'s cursor to ``sink`` and advance the
    cursor once acknowledged. Returns the batch size (0: nothing new, or another
    exporter holds the sink). Raises SinkError; the cursor is then unchanged."""
    limit = svc.settings.siem.batch
    with svc.engine.begin() as conn:  # cheap, unlocked: most passes find nothing new
        if _latest(conn) <= _cursor(conn, name):
            return 0
    horizon = settled_horizon(svc)
    if is_sqlite(svc.engine):
        return _deliver_unlocked(svc, name, sink, horizon, limit)
    return _deliver_locked(svc, name, sink, horizon, limit)


def _deliver_unlocked(svc: Services, name: str, sink: Sink, horizon: int, limit: int) -> int:
    """SQLite: no transaction stays open while the sink is called (it would hold
    the database's only write lock)."""
    with svc.engine.begin() as conn:
        batch = _read(conn, _cursor(conn, name), horizon, limit)
    if batch:
        sink.send(batch)
        with svc.engine.begin() as conn:
            _advance(conn, name, batch[-1].seq, svc.clock.now())
    return len(batch)


def _deliver_locked(svc: Services, name: str, sink: Sink, horizon: int, limit: int) -> int:
    """PostgreSQL: the cursor row stays locked while the batch is in flight."""
    with svc.engine.begin() as conn:
        _ensure_cursor(conn, name, svc.clock.now())
        after = _locked_cursor(conn, name)
        if after is None:
            return 0  # another exporter is delivering to this sink right now
        batch = _read(conn, after, horizon, limit)
        if batch:
            sink.send(batch)
            _advance(conn, name, batch[-1].seq, svc.clock.now())
    return len(batch)


def settled_horizon(svc: Services) -> int:
    """The highest ledger seq below which no entry can still appear."""
    with svc.engine.begin() as conn:
        if not is_sqlite(svc.engine):
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            conn.execute(text(f"LOCK TABLE {ledger.name} IN SHARE MODE"))
        return _latest(conn)


def _latest(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(ledger.c.seq), 0))).scalar_one())


def _ensure_cursor(conn: Connection, name: str, now: datetime) -> None:
    """Create the sink's cursor at 0 unless it exists (PostgreSQL)."""
    conn.execute(
        pg_insert(export_cursors)
        .values(sink=name, last_seq=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["sink"])
    )


def _cursor(conn: Connection, name: str) -> int:
    """The sink's last acknowledged seq (0 for a new sink)."""
    query = select(export_cursors.c.last_seq).where(export_cursors.c.sink == name)
    found = conn.execute(query).scalar_one_or_none()
    return 0 if found is None else int(found)


def _locked_cursor(conn: Connection, name: str) -> int | None:
    """Like :func:`_cursor`, locking the row until commit (PostgreSQL); None when
    another exporter holds it."""
    query = (
        select(export_cursors.c.last_seq)
        .where(export_cursors.c.sink == name)
        .with_for_update(skip_locked=True)
    )
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def _read(conn: Connection, after: int, horizon: int, limit: int) -> list[Outgoing]:
    rows = conn.execute(
        select(ledger.c.seq, ledger.c.event_id, ledger.c.canonical)
        .where(ledger.c.seq > after, ledger.c.seq <= horizon)
        .order_by(ledger.c.seq)
        .limit(limit)
    )
    return [
        Outgoing(seq=r.seq, event_id=r.event_id, event=to_ocsf(json.loads(r.canonical), seq=r.seq))
        for r in rows
    ]


def _advance(conn: Connection, name: str, seq: int, now: datetime) -> None:
    """Move the cursor forward to ``seq`` (never back)."""
    updated = conn.execute(
        export_cursors.update()
        .where(export_cursors.c.sink == name, export_cursors.c.last_seq < seq)
        .values(last_seq=seq, updated_at=now)
    )
    if updated.rowcount == 0:
        exists = conn.execute(select(export_cursors.c.sink).where(export_cursors.c.sink == name))
        if exists.first() is None:
            conn.execute(export_cursors.insert().values(sink=name, last_seq=seq, updated_at=now))


@dataclass(frozen=True, slots=True)
class SinkStatus:
    name: str
    kind: str
    last_seq: int
    pending: int
    updated_at: datetime | None


def export_status(svc: Services) -> list[SinkStatus]:
    """Per configured sink: the acknowledged position and how many entries wait."""
    out: list[SinkStatus] = []
    with svc.engine.connect() as conn:
        cursors: dict[str, Any] = {r.sink: r for r in conn.execute(select(export_cursors))}
        for name, cfg in svc.settings.siem.sinks.items():
            row = cursors.get(name)
            last = int(row.last_seq) if row is not None else 0
            pending = conn.execute(
                select(func.count()).select_from(ledger).where(ledger.c.seq > last)
            ).scalar_one()
            out.append(
                SinkStatus(
                    name=name,
                    kind=cfg.kind,
                    last_seq=last,
                    pending=int(pending),
                    updated_at=maybe_aware(row.updated_at) if row is not None else None,
                )
            )
    return out
