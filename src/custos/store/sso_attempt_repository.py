"""Operator single sign-on attempts between the redirect to the provider and its
answer. Only digests are stored: the state's and the browser binding's (SHA-256
of random values); an attempt is taken once, by whichever callback deletes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from custos.store.mapping import aware
from custos.store.tables import console_sso_attempts


@dataclass(frozen=True, slots=True)
class SsoAttempt:
    state_digest: str
    browser_digest: str
    return_to: str
    expires_at: datetime


class SsoAttemptRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, attempt: SsoAttempt, *, now: datetime) -> None:
        self._conn.execute(
            console_sso_attempts.insert().values(
                state_digest=attempt.state_digest,
                browser_digest=attempt.browser_digest,
                return_to=attempt.return_to,
                created_at=now,
                expires_at=attempt.expires_at,
            )
        )

    def take(self, state_digest: str) -> SsoAttempt | None:
        """The attempt with this state digest, removed so that no other callback
        can use it; None when there is none (unknown, or already taken)."""
        row = self._conn.execute(
            select(console_sso_attempts).where(console_sso_attempts.c.state_digest == state_digest)
        ).first()
        if row is None:
            return None
        deleted = self._conn.execute(
            console_sso_attempts.delete().where(console_sso_attempts.c.state_digest == state_digest)
        )
        if deleted.rowcount != 1:  # another node took it first
            return None
        return SsoAttempt(
            state_digest=row.state_digest,
            browser_digest=row.browser_digest,
            return_to=row.return_to,
            expires_at=aware(row.expires_at),
        )

    def purge_expired(self, *, now: datetime) -> int:
        """Remove attempts that expired before ``now``; how many."""
        result = self._conn.execute(
            console_sso_attempts.delete().where(console_sso_attempts.c.expires_at < now)
        )
        return int(result.rowcount)
