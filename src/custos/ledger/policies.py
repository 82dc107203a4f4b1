"""Policy texts by hash: the exact text a case froze, kept so an evidence pack
can include it (and an auditor can re-hash it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from custos.store.tables import policies


def remember_policy(conn: Connection, *, policy_hash: str, text: str, now: datetime) -> None:
    """Store ``text`` under ``policy_hash`` unless it is already there (safe when
    several processes race: the second insert does nothing)."""
    known = conn.execute(select(policies.c.hash).where(policies.c.hash == policy_hash)).first()
    if known is not None:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(policies)
        .values(hash=policy_hash, text=text, first_seen_at=now)
        .on_conflict_do_nothing(index_elements=["hash"])
    )


def policy_text(conn: Connection, policy_hash: str) -> str | None:
    """The stored text for ``policy_hash``, or None."""
    row = conn.execute(select(policies.c.text).where(policies.c.hash == policy_hash)).first()
    return None if row is None else str(row.text)
