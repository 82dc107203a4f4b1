"""Exceptions and break-glass records (docs/exceptions.md). Whether one is
active depends on the time asked at (``ExceptionRecord.status``); the worker
records the expiry of those whose end time passed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from custos.domain.errors import NotFound
from custos.domain.exceptions import ExceptionApproval, ExceptionRecord, Relaxation
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import policy_exceptions as table


def _from_row(row: Any) -> ExceptionRecord:
    return ExceptionRecord(
        id=row.id,
        requested_by=row.requested_by,
        requester_person=row.requester_person,
        reason=row.reason,
        relaxation=Relaxation(row.relaxation),
        value=row.value,
        starts_at=aware(row.starts_at),
        ends_at=aware(row.ends_at),
        subject_ids=tuple(row.subject_ids),
        group=row.group_name,
        tier=row.tier,
        approvals=tuple(
            ExceptionApproval(
                actor=a["actor"], person=a["person"], at=aware(datetime.fromisoformat(a["at"]))
            )
            for a in row.approvals
        ),
        ticket=row.ticket,
        revoked_by=row.revoked_by,
        revoked_at=maybe_aware(row.revoked_at),
        expired_at=maybe_aware(row.expired_at),
    )


def _approvals(record: ExceptionRecord) -> list[dict[str, str]]:
    return [
        {"actor": a.actor, "person": a.person, "at": a.at.isoformat()} for a in record.approvals
    ]


class ExceptionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: ExceptionRecord) -> None:
        self._conn.execute(
            table.insert().values(
                id=record.id,
                requested_by=record.requested_by,
                requester_person=record.requester_person,
                reason=record.reason,
                relaxation=str(record.relaxation),
                value=record.value,
                starts_at=record.starts_at,
                ends_at=record.ends_at,
                subject_ids=list(record.subject_ids),
                group_name=record.group,
                tier=record.tier,
                approvals=_approvals(record),
                ticket=record.ticket,
                revoked_by=record.revoked_by,
                revoked_at=record.revoked_at,
                expired_at=record.expired_at,
            )
        )

    def get(self, exception_id: str, *, for_update: bool = False) -> ExceptionRecord:
        """One exception; ``for_update`` locks its row on PostgreSQL. Raises NotFound."""
        query = select(table).where(table.c.id == exception_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            raise NotFound(f"no exception '{exception_id[:80]}'", exception=exception_id[:80])
        return _from_row(row)

    def set_approvals(self, record: ExceptionRecord) -> None:
        """Store ``record``'s approvals (its row was read ``for_update``)."""
        self._conn.execute(
            table.update().where(table.c.id == record.id).values(approvals=_approvals(record))
        )

    def revoke(self, exception_id: str, *, by: str, at: datetime) -> bool:
        """Record the revocation; False when it was revoked or expired meanwhile."""
        result = self._conn.execute(
            table.update()
            .where(
                table.c.id == exception_id,
                table.c.revoked_at.is_(None),
                table.c.expired_at.is_(None),
                table.c.ends_at > at,
            )
            .values(revoked_by=by, revoked_at=at)
        )
        return result.rowcount == 1

    def record_expiry(self, exception_id: str, *, at: datetime) -> bool:
        """Record that the end time passed; False when revoked or recorded meanwhile."""
        result = self._conn.execute(
            table.update()
            .where(
                table.c.id == exception_id,
                table.c.revoked_at.is_(None),
                table.c.expired_at.is_(None),
                table.c.ends_at <= at,
            )
            .values(expired_at=at)
        )
        return result.rowcount == 1

    def due_to_expire(self, now: datetime, *, limit: int = 100) -> list[ExceptionRecord]:
        """Exceptions whose end time passed but whose expiry is not recorded yet."""
        query = (
            select(table)
            .where(
                table.c.revoked_at.is_(None),
                table.c.expired_at.is_(None),
                table.c.ends_at <= now,
            )
            .order_by(table.c.ends_at, table.c.id)
            .limit(limit)
        )
        return [_from_row(r) for r in self._conn.execute(query)]

    def live(self, now: datetime) -> list[ExceptionRecord]:
        """Exceptions neither revoked nor ended at ``now`` (pending or active),
        oldest first."""
        query = (
            select(table)
            .where(
                table.c.revoked_at.is_(None),
                table.c.expired_at.is_(None),
                table.c.ends_at > now,
            )
            .order_by(table.c.starts_at, table.c.id)
        )
        return [_from_row(r) for r in self._conn.execute(query)]

    def search(self, *, limit: int = 500) -> list[ExceptionRecord]:
        """Exceptions newest first (by start time)."""
        query = select(table).order_by(table.c.starts_at.desc(), table.c.id).limit(limit)
        return [_from_row(r) for r in self._conn.execute(query)]

    def started_before(self, end: datetime) -> list[ExceptionRecord]:
        """Every exception that started before ``end``, oldest first (reports)."""
        query = select(table).where(table.c.starts_at < end).order_by(table.c.starts_at, table.c.id)
        return [_from_row(r) for r in self._conn.execute(query)]
