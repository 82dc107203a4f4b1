"""Oversight records: refusal windows counted by atomic upserts (any number of
processes share one count, R-36) and operator anomaly alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite

from custos.store.mapping import aware
from custos.store.tables import campaign_members, ledger, oversight_alerts, refusal_windows


@dataclass(frozen=True, slots=True)
class RefusalWindow:
    actor: str
    kind: str
    window_start: datetime
    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: str
    fingerprint: str
    operator: str
    signal: str
    summary: str
    measured: dict[str, Any]
    entries: list[dict[str, Any]]
    state: str
    raised_at: datetime


def _window(row: Any) -> RefusalWindow:
    return RefusalWindow(
        actor=row.actor,
        kind=row.kind,
        window_start=aware(row.window_start),
        count=int(row._mapping["count"]),
        last_at=aware(row.last_at),
    )


def _alert(row: Any) -> StoredAlert:
    return StoredAlert(
        id=row.id,
        fingerprint=row.fingerprint,
        operator=row.operator,
        signal=row.signal,
        summary=row.summary,
        measured=dict(row.measured),
        entries=list(row.entries),
        state=row.state,
        raised_at=aware(row.raised_at),
    )


class RefusalWindowRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def count_one(self, *, actor: str, kind: str, window_start: datetime, now: datetime) -> int:
        """Count one refusal of ``actor`` and ``kind`` in the window starting at
        ``window_start``; returns the window's count with it (1: the first)."""
        module = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = module.insert(refusal_windows).values(
            actor=actor,
            kind=kind,
            window_start=window_start,
            count=1,
            last_at=now,
            summarised=False,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                refusal_windows.c.actor,
                refusal_windows.c.kind,
                refusal_windows.c.window_start,
            ],
            set_={"count": refusal_windows.c.count + 1, "last_at": now},
        ).returning(refusal_windows.c.count)
        return int(self._conn.execute(stmt).scalar_one())

    def closed_unsummarised(
        self, *, before: datetime, actor: str | None = None
    ) -> list[RefusalWindow]:
        """Windows that started before ``before`` (closed) with more than one
        refusal and no summary written yet (rows locked on PostgreSQL)."""
        query = select(refusal_windows).where(
            refusal_windows.c.window_start < before,
            refusal_windows.c.count > 1,
            refusal_windows.c.summarised.is_(False),
        )
        if actor is not None:
            query = query.where(refusal_windows.c.actor == actor)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_window(r) for r in self._conn.execute(query.order_by(refusal_windows.c.last_at))]

    def mark_summarised(self, window: RefusalWindow) -> None:
        self._conn.execute(
            refusal_windows.update()
            .where(
                refusal_windows.c.actor == window.actor,
                refusal_windows.c.kind == window.kind,
                refusal_windows.c.window_start == window.window_start,
            )
            .values(summarised=True)
        )

    def totals_by_kind(self) -> dict[str, int]:
        """Every refusal ever counted, by kind (the metrics)."""
        rows = self._conn.execute(
            select(refusal_windows.c.kind, func.sum(refusal_windows.c.count)).group_by(
                refusal_windows.c.kind
            )
        )
        return {str(kind): int(total or 0) for kind, total in rows}


class AlertRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_new(self, alert: StoredAlert) -> bool:
        """Insert ``alert`` unless one with its fingerprint exists; True when new."""
        module = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = (
            module.insert(oversight_alerts)
            .values(
                id=alert.id,
                fingerprint=alert.fingerprint,
                operator=alert.operator,
                signal=alert.signal,
                summary=alert.summary,
                measured=alert.measured,
                entries=alert.entries,
                state=alert.state,
                raised_at=alert.raised_at,
            )
            .on_conflict_do_nothing(index_elements=[oversight_alerts.c.fingerprint])
            .returning(oversight_alerts.c.id)
        )
        return self._conn.execute(stmt).first() is not None

    def open_alerts(self, operator: str | None = None) -> list[StoredAlert]:
        query = select(oversight_alerts).where(oversight_alerts.c.state == "open")
        if operator is not None:
            query = query.where(oversight_alerts.c.operator == operator)
        query = query.order_by(oversight_alerts.c.raised_at, oversight_alerts.c.id)
        return [_alert(r) for r in self._conn.execute(query)]

    def evidence_seqs(self, operator: str, signal: str) -> set[int]:
        """The ledger seqs every alert of ``operator`` and ``signal`` already cites."""
        rows = self._conn.execute(
            select(oversight_alerts.c.entries).where(
                oversight_alerts.c.operator == operator, oversight_alerts.c.signal == signal
            )
        )
        return {int(e["seq"]) for (entries,) in rows for e in entries}

    def ledger_news(
        self,
        after: int,
        *,
        types: Sequence[str],
        actor_prefix: str,
        campaign_copies: Sequence[str],
    ) -> tuple[int, bool]:
        """The ledger's last seq (0 when empty), and whether an entry after seq
        ``after`` is one the detection reads: of ``types``, by an actor starting
        with ``actor_prefix``, about a case, and not of ``campaign_copies`` on an
        incident campaign's case (its copies of the campaign's start and
        approvals, which the detection leaves out). It reads only the entries
        appended after ``after`` (a range of the primary key), so a worker's
        pass costs what was appended since its last run, not the ledger."""
        top = int(self._conn.execute(select(func.max(ledger.c.seq))).scalar_one() or 0)
        if top <= after:
            return top, False
        copy = and_(
            ledger.c.type.in_(list(campaign_copies)),
            exists().where(campaign_members.c.case_id == ledger.c.case_id),
        )
        found = self._conn.execute(
            select(ledger.c.seq)
            .where(
                ledger.c.seq > after,
                ledger.c.seq <= top,
                ledger.c.type.in_(list(types)),
                # LIKE may match more loosely (case); a false "news" only runs
                # the detection once more, which reads the exact actor.
                ledger.c.actor.startswith(actor_prefix, autoescape=True),
                ledger.c.case_id.is_not(None),
                ~copy,
            )
            .limit(1)
        ).first()
        return top, found is not None
