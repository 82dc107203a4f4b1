"""Operators' console sessions (docs/console.md): only the SHA-256 of the cookie's
token is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from custos.domain.console import ConsoleSession
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import console_sessions


def _session(r: Any) -> ConsoleSession:
    return ConsoleSession(
        id=r.id,
        operator_id=r.operator_id,
        method=r.method,
        created_at=aware(r.created_at),
        last_seen_at=aware(r.last_seen_at),
        ended_at=maybe_aware(r.ended_at),
    )


class ConsoleSessionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self, digest: str, *, operator_id: str, method: str, source: str | None, now: datetime
    ) -> int:
        result = self._conn.execute(
            console_sessions.insert().values(
                digest=digest,
                operator_id=operator_id,
                method=method,
                source=source[:64] if source else None,
                created_at=now,
                last_seen_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def by_digest(self, digest: str) -> ConsoleSession | None:
        row = self._conn.execute(
            select(console_sessions).where(console_sessions.c.digest == digest)
        ).first()
        return None if row is None else _session(row)

    def touch(self, session_id: int, *, now: datetime) -> None:
        self._conn.execute(
            console_sessions.update()
            .where(console_sessions.c.id == session_id)
            .values(last_seen_at=now)
        )

    def end(self, session_id: int, *, now: datetime, reason: str) -> bool:
        result = self._conn.execute(
            console_sessions.update()
            .where(console_sessions.c.id == session_id, console_sessions.c.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason[:100])
        )
        return int(result.rowcount) == 1

    def end_all(self, operator_id: str, *, now: datetime, reason: str) -> int:
        """End every open session of the operator; return how many."""
        result = self._conn.execute(
            console_sessions.update()
            .where(
                console_sessions.c.operator_id == operator_id,
                console_sessions.c.ended_at.is_(None),
            )
            .values(ended_at=now, end_reason=reason[:100])
        )
        return int(result.rowcount)

    def open_count(self, operator_id: str) -> int:
        rows = self._conn.execute(
            select(console_sessions.c.id).where(
                console_sessions.c.operator_id == operator_id,
                console_sessions.c.ended_at.is_(None),
            )
        ).all()
        return len(rows)
