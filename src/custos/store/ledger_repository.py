"""Appends domain events to the ``ledger`` table, in the caller's transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import rfc8785
from sqlalchemy import Connection, func, select

from custos.domain.events import DomainEvent
from custos.store.mapping import aware
from custos.store.tables import ledger


def canonical_bytes(event_id: str, event: DomainEvent) -> bytes:
    """RFC 8785 canonical JSON of one entry: the exact bytes a Merkle leaf will hash."""
    entry: dict[str, Any] = {"id": event_id, **event.canonical()}
    return rfc8785.dumps(entry)


class LedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, events: Iterable[DomainEvent]) -> list[str]:
        """Insert events in order; return their ids. The database sequence gives one
        total order across processes."""
        rows: list[dict[str, Any]] = []
        for event in events:
            event_id = str(uuid.uuid4())
            rows.append(
                {
                    "event_id": event_id,
                    "type": str(event.type),
                    "occurred_at": event.occurred_at,
                    "actor": event.actor,
                    "subject_id": event.subject_id,
                    "case_id": event.case_id,
                    "outcome": str(event.outcome),
                    "canonical": canonical_bytes(event_id, event).decode("utf-8"),
                }
            )
        for row in rows:  # one by one: keeps the sequence order equal to the event order
            self._conn.execute(ledger.insert().values(**row))
        return [r["event_id"] for r in rows]

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        result = self._conn.execute(
            select(ledger).where(ledger.c.case_id == case_id).order_by(ledger.c.seq)
        )
        return [
            {
                "seq": r.seq,
                "occurred_at": aware(r.occurred_at),
                **json.loads(r.canonical),
            }
            for r in result
        ]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(ledger)).scalar_one())
