"""Appends domain events to the ``ledger`` table, in the caller's transaction."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from custos.domain.events import DomainEvent
from custos.ledger.canonical import canonical_event
from custos.ledger.merkle import completed_nodes, leaf_hash
from custos.store.bulk import chunks, insert_many
from custos.store.mapping import aware
from custos.store.tables import ledger, ledger_nodes
from custos.uuid_text import uuid_text

#: pg_advisory_xact_lock key that serialises ledger appends across processes
#: (ASCII "custosLG"): commit order equals leaf order, so no head covers a gap.
APPEND_LOCK = 0x637573746F734C47


#: The bits of a version 7 UUID (RFC 9562 §5.7) that are not random: the
#: 48-bit Unix time in milliseconds, the version nibble and the two variant
#: bits. Cleared from random bytes, then set to the time, 0111 and 10.
_UUID7_CLEAR = ~((((1 << 48) - 1) << 80) | (0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID7_FIXED = (0x7 << 76) | (0x2 << 62)
#: The mask as 16 bytes, repeated once per id to mask a whole batch at once.
_CLEAR_BYTES = _UUID7_CLEAR.to_bytes(16)


def event_ids(count: int, *, now_ns: int | None = None) -> list[str]:
    """``count`` fresh ledger entry ids: version 7 UUIDs (RFC 9562 §5.7) in
    the canonical 8-4-4-4-12 spelling, each the Unix time in milliseconds
    (``now_ns``, default the system clock) then 74 bits from ``os.urandom``.

    Time-ordered so that the unique index on ``event_id`` grows at its end,
    as the ledger does: random (version 4) ids put every insert at a random
    place in an index as large as the ledger (on SQLite, measured on the
    propagation bench: 15 to 20% of the store's own CPU per recovery, the
    same as dropping that index altogether). The ids say when they were made,
    which the entry says anyway; they are no secret and grant nothing.

    Made from one ``os.urandom`` read, masked and spelled in hex as one
    number, without a ``UUID`` object or an integer per id: a batch of
    recoveries appends thousands at once. Within one millisecond ids are
    unordered (their random bits); the ledger orders entries by ``seq``."""
    if not count:
        return []
    size = 16 * count
    stamp = (now_ns if now_ns is not None else time.time_ns()) // 1_000_000
    fixed = ((stamp & ((1 << 48) - 1)) << 80 | _UUID7_FIXED).to_bytes(16)
    value = int.from_bytes(os.urandom(size)) & int.from_bytes(_CLEAR_BYTES * count)
    h = (value | int.from_bytes(fixed * count)).to_bytes(size).hex()
    return [uuid_text(h, at) for at in range(0, 2 * size, 32)]


def canonical_bytes(event_id: str, event: DomainEvent) -> bytes:
    """RFC 8785 canonical JSON of one entry: the exact bytes a Merkle leaf will hash."""
    return canonical_event(event_id, event)


def _entry(row: Any) -> dict[str, Any]:
    """A ledger row as the faces read it: its position, its time, its entry."""
    return {"seq": row.seq, "occurred_at": aware(row.occurred_at), **json.loads(row.canonical)}


class LedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def append(self, events: Iterable[DomainEvent]) -> list[str]:
        """Insert events in order as the next Merkle leaves; return their ids.

        Appends are serialised (an advisory transaction lock on PostgreSQL,
        ``BEGIN IMMEDIATE`` on SQLite) until the caller commits, so leaf indexes
        are gap-free and commit order equals leaf order across processes. The
        leaf hash and every complete subtree the new leaves finish are written
        in the same transaction (R-38)."""
        batch = list(events)
        rows: list[dict[str, Any]] = []
        for event_id, event in zip(event_ids(len(batch)), batch, strict=True):
            canonical = canonical_bytes(event_id, event)
            rows.append(
                {
                    "event_id": event_id,
                    "type": str(event.type),
                    "occurred_at": event.occurred_at,
                    "actor": event.actor,
                    "subject_id": event.subject_id,
                    "case_id": event.case_id,
                    "outcome": str(event.outcome),
                    "canonical": canonical.decode("utf-8"),
                    "leaf_hash": leaf_hash(canonical),
                }
            )
        if not rows:
            return []
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
        size = self.size()
        fresh: dict[tuple[int, int], bytes] = {}

        def node(level: int, position: int) -> bytes:
            return fresh.get((level, position)) or self._node(level, position)

        nodes: list[dict[str, Any]] = []
        for row in rows:
            row["leaf_index"] = size
            fresh[(0, size)] = row["leaf_hash"]
            for level, position, value in completed_nodes(size, row["leaf_hash"], node):
                fresh[(level, position)] = value
                nodes.append({"level": level, "position": position, "hash": value})
            size += 1
        # One executemany: rows go in list order, so the sequence follows the leaves.
        insert_many(self._conn, ledger, rows)
        insert_many(self._conn, ledger_nodes, nodes)
        return [r["event_id"] for r in rows]

    def size(self) -> int:
        """How many leaves the tree has (as this transaction sees it)."""
        top = self._conn.execute(select(func.max(ledger.c.leaf_index))).scalar_one()
        return 0 if top is None else int(top) + 1

    def _node(self, level: int, position: int) -> bytes:
        if level == 0:
            query = select(ledger.c.leaf_hash).where(ledger.c.leaf_index == position)
        else:
            query = select(ledger_nodes.c.hash).where(
                ledger_nodes.c.level == level, ledger_nodes.c.position == position
            )
        return bytes(self._conn.execute(query).scalar_one())

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        result = self._conn.execute(
            select(ledger).where(ledger.c.case_id == case_id).order_by(ledger.c.seq)
        )
        return [_entry(r) for r in result]

    def about_subjects(
        self, types: Iterable[str], subject_ids: Iterable[str], *, since: datetime
    ) -> list[dict[str, Any]]:
        """The entries of ``types`` about any of ``subject_ids`` that occurred at
        or after ``since``, in ledger order, shaped as :meth:`for_case` shapes them."""
        wanted = [str(t) for t in types]
        found: list[Any] = []
        for chunk in chunks(subject_ids):
            found += self._conn.execute(
                select(ledger).where(
                    ledger.c.subject_id.in_(chunk),
                    ledger.c.type.in_(wanted),
                    ledger.c.occurred_at >= since,
                )
            )
        return [_entry(r) for r in sorted(found, key=lambda r: r.seq)]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(ledger)).scalar_one())

    def of_types(
        self, types: Iterable[str], *, since: datetime, actor_prefix: str | None = None
    ) -> list[dict[str, Any]]:
        """The entries of ``types`` that occurred at or after ``since``, in ledger
        order, shaped as :meth:`for_case` shapes them (operator oversight). With
        ``actor_prefix``, only those whose actor starts with it: the database
        leaves the others out before any entry is decoded (the worker's anomaly
        pass would otherwise decode every system and subject entry, each pass)."""
        query = select(ledger).where(
            ledger.c.type.in_([str(t) for t in types]), ledger.c.occurred_at >= since
        )
        if actor_prefix is not None:
            # LIKE may match more loosely (case); the exact test follows.
            query = query.where(ledger.c.actor.startswith(actor_prefix, autoescape=True))
        result = self._conn.execute(query.order_by(ledger.c.seq))
        return [
            _entry(r)
            for r in result
            if actor_prefix is None or str(r.actor).startswith(actor_prefix)
        ]

    def openings_of(self, case_ids: Iterable[str], opened_type: str) -> dict[str, dict[str, Any]]:
        """The opening entry (of type ``opened_type``) of each of ``case_ids``."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(case_ids):
            for row in self._conn.execute(
                select(ledger).where(ledger.c.case_id.in_(chunk), ledger.c.type == opened_type)
            ):
                found[row.case_id] = _entry(row)
        return found
