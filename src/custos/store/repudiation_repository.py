"""Repudiation tokens: the "this wasn't me" links of recovery notices (R-22,
R-43). Only SHA-256 digests are stored; a token is good once, for 7 days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from custos.store.bulk import insert_many
from custos.store.tables import repudiation_tokens


class RepudiationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, case_id: str, digest: str, now: datetime, expires_at: datetime) -> None:
        self._conn.execute(
            repudiation_tokens.insert().values(
                case_id=case_id, digest=digest, issued_at=now, expires_at=expires_at
            )
        )

    def add_many(
        self, tokens: Sequence[tuple[str, str]], *, now: datetime, expires_at: datetime
    ) -> None:
        """``add`` for several ``(case_id, digest)`` pairs in one statement."""
        insert_many(
            self._conn,
            repudiation_tokens,
            [
                {"case_id": case_id, "digest": digest, "issued_at": now, "expires_at": expires_at}
                for case_id, digest in tokens
            ],
        )

    def use(self, digest: str, *, now: datetime) -> str | None:
        """Mark the token with ``digest`` used; return its case id. None when the
        token is unknown, used or expired. Exactly one of racing callers wins: the
        guarded UPDATE is decided by the database."""
        row = self._conn.execute(
            select(repudiation_tokens.c.id, repudiation_tokens.c.case_id).where(
                repudiation_tokens.c.digest == digest
            )
        ).first()
        if row is None:
            return None
        result = self._conn.execute(
            repudiation_tokens.update()
            .where(
                repudiation_tokens.c.id == row.id,
                repudiation_tokens.c.used_at.is_(None),
                repudiation_tokens.c.expires_at > now,
            )
            .values(used_at=now)
        )
        return str(row.case_id) if int(result.rowcount) == 1 else None

    def use_all(self, case_id: str, *, now: datetime) -> int:
        """Mark every unused token of the case used (the case was flagged already)."""
        result = self._conn.execute(
            repudiation_tokens.update()
            .where(repudiation_tokens.c.case_id == case_id, repudiation_tokens.c.used_at.is_(None))
            .values(used_at=now)
        )
        return int(result.rowcount)
