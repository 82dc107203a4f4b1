"""Operators' console sessions (docs/console.md; R-26, R-30): server-side, ended
after an idle period or an absolute lifetime, on sign-out, and at once when the
operator is disabled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id: int
    operator_id: str
    method: str  # how the operator signed in: "password", "oidc"
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None

    def live(self, now: datetime, *, idle: timedelta, absolute: timedelta) -> bool:
        """Not ended, seen within ``idle`` and younger than ``absolute``."""
        return (
            self.ended_at is None
            and now - self.last_seen_at < idle
            and now - self.created_at < absolute
        )
