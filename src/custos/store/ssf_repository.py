"""Shared-signals streams and the SET outbox (docs/shared-signals.md).

A stream's push ``Authorization`` value is stored sealed and read only by the
sweep that pushes. SET rows wait in the outbox until the sweep delivered them
or gave up (the outcome is in the ledger); a sweep leases the rows it takes, so
one that dies loses none."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, or_, select, update

from custos.domain.shared_signals import Stream, StreamStatus
from custos.store.bulk import chunks, insert_many
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import ssf_outbox, ssf_streams


def _stream(r: Any) -> Stream:
    return Stream(
        id=r.id,
        audience=tuple(r.audience),
        endpoint_url=r.endpoint_url,
        events_requested=tuple(r.events_requested),
        description=r.description,
        status=StreamStatus(r.status),
        status_reason=r.status_reason,
        created_at=aware(r.created_at),
        updated_at=aware(r.updated_at),
        has_authorization=r.sealed_authorization is not None,
        last_verification_at=maybe_aware(r.last_verification_at),
    )


def _values(stream: Stream) -> dict[str, Any]:
    return {
        "audience": list(stream.audience),
        "endpoint_url": stream.endpoint_url,
        "events_requested": list(stream.events_requested),
        "description": stream.description,
        "status": str(stream.status),
        "status_reason": stream.status_reason,
        "updated_at": stream.updated_at,
        "last_verification_at": stream.last_verification_at,
    }


class StreamRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, stream: Stream, *, sealed_authorization: bytes | None) -> None:
        self._conn.execute(
            ssf_streams.insert().values(
                id=stream.id,
                created_at=stream.created_at,
                sealed_authorization=sealed_authorization,
                **_values(stream),
            )
        )

    def get(self, stream_id: str, *, for_update: bool = False) -> Stream | None:
        query = select(ssf_streams).where(ssf_streams.c.id == stream_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _stream(row)

    def all(self) -> list[Stream]:
        rows = self._conn.execute(
            select(ssf_streams).order_by(ssf_streams.c.created_at, ssf_streams.c.id)
        )
        return [_stream(r) for r in rows]

    def holding(self) -> list[Stream]:
        """The streams SETs are written for: enabled ones, and paused ones that
        hold them until enabled (SSF §8.1.2)."""
        return [s for s in self.all() if s.holds_events]

    def save(self, stream: Stream) -> None:
        """Store every field of ``stream`` but its id, creation and authorization."""
        self._conn.execute(
            update(ssf_streams).where(ssf_streams.c.id == stream.id).values(**_values(stream))
        )

    def set_authorization(self, stream_id: str, sealed: bytes | None) -> None:
        self._conn.execute(
            update(ssf_streams)
            .where(ssf_streams.c.id == stream_id)
            .values(sealed_authorization=sealed)
        )

    def sealed_authorizations(self, stream_ids: Iterable[str]) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        for chunk in chunks(stream_ids):
            rows = self._conn.execute(
                select(ssf_streams.c.id, ssf_streams.c.sealed_authorization).where(
                    ssf_streams.c.id.in_(chunk)
                )
            )
            for r in rows:
                found[r.id] = (
                    None if r.sealed_authorization is None else bytes(r.sealed_authorization)
                )
        return found

    def get_many(self, stream_ids: Iterable[str]) -> dict[str, Stream]:
        found: dict[str, Stream] = {}
        for chunk in chunks(stream_ids):
            rows = self._conn.execute(select(ssf_streams).where(ssf_streams.c.id.in_(chunk)))
            found.update((r.id, _stream(r)) for r in rows)
        return found

    def delete(self, stream_id: str) -> bool:
        result = self._conn.execute(delete(ssf_streams).where(ssf_streams.c.id == stream_id))
        return result.rowcount > 0


@dataclass(frozen=True, slots=True)
class SetRow:
    """One SET waiting for delivery. ``sealed`` holds its claims."""

    id: str
    stream_id: str
    event_type: str
    jti: str
    subject_id: str | None
    case_id: str | None
    sealed: bytes
    queued_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Retry:
    """A row to try again at ``due_at``, having been tried ``attempts`` times;
    ``last_error`` None keeps the one it had (a row that waits behind another)."""

    id: str
    due_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits for one stream: how many SETs, and the last failure seen."""

    waiting: int
    last_error: str | None


class SetOutboxRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_many(self, rows: Sequence[SetRow], *, due_at: datetime) -> None:
        insert_many(
            self._conn,
            ssf_outbox,
            [
                {
                    "id": r.id,
                    "stream_id": r.stream_id,
                    "event_type": r.event_type,
                    "jti": r.jti,
                    "subject_id": r.subject_id,
                    "case_id": r.case_id,
                    "sealed": r.sealed,
                    "queued_at": r.queued_at,
                    "due_at": due_at,
                    "attempts": 0,
                    "last_error": None,
                }
                for r in rows
            ],
        )

    @staticmethod
    def _due(now: datetime) -> Select[tuple[str]]:
        """Rows due of enabled streams, and of streams deleted meanwhile (a
        completion may write SETs for a stream being deleted: the sweep drops them)."""
        joined = ssf_outbox.outerjoin(ssf_streams, ssf_outbox.c.stream_id == ssf_streams.c.id)
        return (
            select(ssf_outbox.c.id)
            .select_from(joined)
            .where(
                ssf_outbox.c.due_at <= now,
                or_(
                    ssf_streams.c.status == str(StreamStatus.ENABLED),
                    ssf_streams.c.id.is_(None),
                ),
            )
        )

    def any_due(self, *, now: datetime) -> bool:
        """Whether a SET waits for the sweep (a read every worker pass, so that
        the write lock is taken only when needed)."""
        return self._conn.execute(self._due(now).limit(1)).first() is not None

    def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[SetRow]:
        """Lease until ``until`` up to ``limit`` due rows (new, to be retried, or
        left by a sweep that died), oldest first."""
        query = self._due(now).order_by(ssf_outbox.c.id).limit(limit)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=ssf_outbox)
        ids = [str(i) for i in self._conn.execute(query).scalars()]
        for chunk in chunks(ids):
            self._conn.execute(
                update(ssf_outbox).where(ssf_outbox.c.id.in_(chunk)).values(due_at=until)
            )
        found: list[SetRow] = []
        for chunk in chunks(ids):
            rows = self._conn.execute(
                select(ssf_outbox).where(ssf_outbox.c.id.in_(chunk)).order_by(ssf_outbox.c.id)
            )
            found.extend(
                SetRow(
                    id=r.id,
                    stream_id=r.stream_id,
                    event_type=r.event_type,
                    jti=r.jti,
                    subject_id=r.subject_id,
                    case_id=r.case_id,
                    sealed=bytes(r.sealed),
                    queued_at=aware(r.queued_at),
                    attempts=int(r.attempts),
                )
                for r in rows
            )
        return sorted(found, key=lambda row: row.id)

    def reschedule(self, retries: Iterable[Retry], *, leased_until: datetime) -> None:
        """Put rows back for a later attempt, only those still under this sweep's
        lease (one whose lease ran out belongs to the sweep that took it over)."""
        for retry in retries:
            values: dict[str, Any] = {"due_at": retry.due_at, "attempts": retry.attempts}
            if retry.last_error is not None:
                values["last_error"] = retry.last_error[:300]
            self._conn.execute(
                update(ssf_outbox)
                .where(ssf_outbox.c.id == retry.id, ssf_outbox.c.due_at == leased_until)
                .values(**values)
            )

    def delete_many(self, ids: Iterable[str]) -> None:
        for chunk in chunks(ids):
            self._conn.execute(delete(ssf_outbox).where(ssf_outbox.c.id.in_(chunk)))

    def drop_for_stream(self, stream_id: str) -> int:
        """Forget every SET waiting for the stream; returns how many."""
        result = self._conn.execute(delete(ssf_outbox).where(ssf_outbox.c.stream_id == stream_id))
        return int(result.rowcount)

    def backlog(self) -> dict[str, Backlog]:
        """Per stream with SETs waiting: how many, and the failure of the oldest
        SET that failed (the one the others wait behind)."""
        counts = self._conn.execute(
            select(ssf_outbox.c.stream_id, func.count()).group_by(ssf_outbox.c.stream_id)
        )
        found = {r[0]: Backlog(int(r[1]), None) for r in counts}
        failing = self._conn.execute(
            select(ssf_outbox.c.stream_id, ssf_outbox.c.last_error)
            .where(ssf_outbox.c.last_error.is_not(None))
            .order_by(ssf_outbox.c.id)
        )
        for stream_id, error in failing:
            if found[stream_id].last_error is None:
                found[stream_id] = Backlog(found[stream_id].waiting, error)
        return found
