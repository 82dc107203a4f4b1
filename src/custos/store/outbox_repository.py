"""The notice outbox: sealed messages written in the transaction of the change
they report, due at once, leased to the sweep that delivers them, deleted once
their delivery was tried (its outcome is in the ledger), or, for a webhook
whose post failed, put back for a later sweep."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from custos.store.bulk import chunks, insert_many
from custos.store.mapping import aware
from custos.store.tables import notice_outbox


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    channel: str
    subject_id: str | None
    sealed: bytes
    queued_at: datetime


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(str(r.id), r.channel, r.subject_id, bytes(r.sealed), aware(r.queued_at))


class OutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, rows: Sequence[OutboxRow], *, due_at: datetime) -> None:
        """Insert ``rows``, for the sweep to take from ``due_at`` on."""
        insert_many(
            self._conn,
            notice_outbox,
            [
                {
                    "id": r.id,
                    "channel": r.channel,
                    "subject_id": r.subject_id,
                    "sealed": r.sealed,
                    "queued_at": r.queued_at,
                    "lease_until": due_at,
                }
                for r in rows
            ],
        )

    def any_due(self, *, now: datetime) -> bool:
        """Whether some row waits for the sweep: a read the worker makes every
        pass, so that it takes the write lock only when there is something to
        send."""
        query = select(notice_outbox.c.id).where(notice_outbox.c.lease_until <= now).limit(1)
        return self._conn.execute(query).first() is not None

    def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[OutboxRow]:
        """Lease up to ``limit`` rows nobody holds (new ones, or ones whose sweep
        died before recording them) until ``until``, in the order written. The
        rows are read by the query that picks them (locked on PostgreSQL), then
        leased: two statements, not a third to read them back."""
        c = notice_outbox.c
        query = (
            select(c.id, c.channel, c.subject_id, c.sealed, c.queued_at)
            .where(c.lease_until <= now)
            .order_by(c.lease_until, c.id)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [_outbox_row(r) for r in self._conn.execute(query)]
        for chunk in chunks([r.id for r in rows]):
            self._conn.execute(
                update(notice_outbox).where(c.id.in_(chunk)).values(lease_until=until)
            )
        rows.sort(key=lambda r: (r.queued_at, r.id))
        return rows

    def get_many(self, ids: Iterable[str]) -> list[OutboxRow]:
        found: list[OutboxRow] = []
        for chunk in chunks(ids):
            rows = self._conn.execute(
                select(notice_outbox)
                .where(notice_outbox.c.id.in_(chunk))
                .order_by(notice_outbox.c.queued_at, notice_outbox.c.id)
            )
            found.extend(_outbox_row(r) for r in rows)
        return found

    def put_back(self, rows: Sequence[tuple[str, datetime]], *, leased_until: datetime) -> None:
        """Make each (id, due) row due again at ``due``, only while it is still
        under the lease that ran until ``leased_until`` (the sweep's own: a row
        another sweep took since is left to it)."""
        for row_id, due in rows:
            self._conn.execute(
                update(notice_outbox)
                .where(notice_outbox.c.id == row_id, notice_outbox.c.lease_until == leased_until)
                .values(lease_until=due)
            )

    def delete_many(self, ids: Iterable[str]) -> None:
        for chunk in chunks(ids):
            self._conn.execute(delete(notice_outbox).where(notice_outbox.c.id.in_(chunk)))
