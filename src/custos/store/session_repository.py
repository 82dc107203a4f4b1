"""Subjects' own sessions with Custos (R-26, R-27, R-30). Only the SHA-256 of a
session token is stored; a token is replaced on every (re-)authentication."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from custos.domain.enrolment import Aal, SubjectSession
from custos.store.bulk import chunks
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import subject_sessions


def _session(r: Any) -> SubjectSession:
    return SubjectSession(
        id=r.id,
        subject_id=r.subject_id,
        aal=Aal(r.aal),
        second_factor_due=bool(r.second_factor_due),
        created_at=aware(r.created_at),
        last_seen_at=aware(r.last_seen_at),
        reauth_at=maybe_aware(r.reauth_at),
        ended_at=maybe_aware(r.ended_at),
    )


class SessionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        digest: str,
        *,
        subject_id: str,
        aal: Aal,
        second_factor_due: bool,
        now: datetime,
        reauth_at: datetime | None,
        created_at: datetime | None = None,
    ) -> int:
        result = self._conn.execute(
            subject_sessions.insert().values(
                digest=digest,
                subject_id=subject_id,
                aal=int(aal),
                second_factor_due=second_factor_due,
                created_at=created_at or now,
                last_seen_at=now,
                reauth_at=reauth_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def by_digest(self, digest: str) -> SubjectSession | None:
        row = self._conn.execute(
            select(subject_sessions).where(subject_sessions.c.digest == digest)
        ).first()
        return None if row is None else _session(row)

    def get(self, session_id: int) -> SubjectSession | None:
        row = self._conn.execute(
            select(subject_sessions).where(subject_sessions.c.id == session_id)
        ).first()
        return None if row is None else _session(row)

    def touch(self, session_id: int, *, now: datetime) -> None:
        self._conn.execute(
            subject_sessions.update()
            .where(subject_sessions.c.id == session_id)
            .values(last_seen_at=now)
        )

    def end(self, session_id: int, *, now: datetime, reason: str) -> bool:
        result = self._conn.execute(
            subject_sessions.update()
            .where(subject_sessions.c.id == session_id, subject_sessions.c.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason[:100])
        )
        return int(result.rowcount) == 1

    def end_all_many(
        self, subject_ids: Iterable[str], *, now: datetime, reason: str
    ) -> dict[str, int]:
        """``end_all`` for many subjects; returns how many sessions ended per
        subject that had any."""
        ended: dict[str, int] = {}
        for chunk in chunks(sorted(set(subject_ids))):
            open_ = (
                subject_sessions.c.subject_id.in_(chunk),
                subject_sessions.c.ended_at.is_(None),
            )
            rows = self._conn.execute(
                select(subject_sessions.c.subject_id, func.count())
                .where(*open_)
                .group_by(subject_sessions.c.subject_id)
            ).all()
            if rows:
                self._conn.execute(
                    subject_sessions.update()
                    .where(*open_)
                    .values(ended_at=now, end_reason=reason[:100])
                )
                ended.update({subject: int(count) for subject, count in rows})
        return ended

    def end_all(
        self, subject_id: str, *, now: datetime, reason: str, keep: int | None = None
    ) -> int:
        """End every open session of the subject (but ``keep``); return how many."""
        query = subject_sessions.update().where(
            subject_sessions.c.subject_id == subject_id, subject_sessions.c.ended_at.is_(None)
        )
        if keep is not None:
            query = query.where(subject_sessions.c.id != keep)
        result = self._conn.execute(query.values(ended_at=now, end_reason=reason[:100]))
        return int(result.rowcount)
