"""Holds on subjects and groups (docs/holds.md). A hold stands while it is
neither lifted nor past its end time: every question about standing holds
takes the time to ask it at, so an end time counts before the worker records
it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, or_, select, text

from custos.domain.errors import NotFound
from custos.domain.holds import HoldRecord, HoldStatus
from custos.store.bulk import ByIds, chunks
from custos.store.mapping import hold_from_row, hold_to_row
from custos.store.tables import holds, subjects

#: pg_advisory_xact_lock key (ASCII "custosHL") that orders placing a hold
#: against opening a case on PostgreSQL, where both run under READ COMMITTED:
#: without it, a case opening while a hold is being set could read no hold and
#: commit after the hold blocked the cases it could see, so it would stand open.
STANDING_LOCK = 0x637573746F73484C


def _standing(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(
        holds.c.lifted_at.is_(None),
        holds.c.expired_at.is_(None),
        or_(holds.c.ends_at.is_(None), holds.c.ends_at > now),
    )


def _ended(now: datetime) -> ColumnElement[bool]:
    return or_(holds.c.expired_at.is_not(None), holds.c.ends_at <= now)


#: The kinds of the holds standing at ``:now`` on a chunk of subjects, and on a
#: chunk of groups (``standing_kinds``).
_ON_SUBJECTS = ByIds(
    holds.c.subject_id,
    lambda in_: select(holds.c.subject_id, holds.c.kind).where(
        in_, _standing(bindparam("now", type_=holds.c.ends_at.type))
    ),
)
_ON_GROUPS = ByIds(
    holds.c.group_name,
    lambda in_: select(holds.c.group_name, holds.c.kind).where(
        in_, _standing(bindparam("now", type_=holds.c.ends_at.type))
    ),
)


class HoldRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def guard_standing(self, *, placing: bool) -> bool:
        """Order this transaction against hold placements until it ends.
        ``placing``: it sets a hold (exclusive: waits for every case opening in
        flight, and they for it); else it opens a case (shared: openings never
        wait for each other). Take it before the transaction's first ledger
        append (appends take the ledger's own lock), and, when opening, read
        the standing holds after it. True on PostgreSQL; on SQLite, where a
        writing transaction holds the database's write lock from its first
        statement, nothing is needed and it returns False."""
        if self._conn.dialect.name != "postgresql":
            return False
        lock = "pg_advisory_xact_lock" if placing else "pg_advisory_xact_lock_shared"
        self._conn.execute(text(f"SELECT {lock}(:key)"), {"key": STANDING_LOCK})
        return True

    def add(self, hold: HoldRecord) -> None:
        self._conn.execute(holds.insert().values(**hold_to_row(hold)))
        self._mirror(hold.subject_id, hold.set_at)

    def _mirror(self, subject_id: str | None, now: datetime) -> None:
        """Expand then contract (migration 0017, docs/operations.md "Upgrades"):
        the previous release reads a subject's holds from ``subjects.holds``, so
        while both releases may run, that column follows the kinds of the holds
        standing on the subject itself (group holds were unknown to it). Goes
        with the column, in the contract release."""
        if subject_id is None:
            return
        kinds = self._conn.execute(
            select(holds.c.kind).where(holds.c.subject_id == subject_id, _standing(now))
        ).scalars()
        self._conn.execute(
            subjects.update().where(subjects.c.id == subject_id).values(holds=sorted(set(kinds)))
        )

    def _mirror_hold(self, hold_id: str, now: datetime) -> None:
        subject_id = self._conn.execute(
            select(holds.c.subject_id).where(holds.c.id == hold_id)
        ).scalar()
        self._mirror(subject_id, now)

    def get(self, hold_id: str, *, for_update: bool = False) -> HoldRecord:
        """One hold; ``for_update`` locks its row on PostgreSQL. Raises NotFound."""
        query = select(holds).where(holds.c.id == hold_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            raise NotFound(f"no hold '{hold_id[:80]}'", hold=hold_id[:80])
        return hold_from_row(row)

    def lift(self, hold_id: str, *, by: str, person: str | None, at: datetime, reason: str) -> bool:
        """Record the lift of a standing hold; False when it no longer stands
        (lifted or ended meanwhile: one lift wins, however many race)."""
        result = self._conn.execute(
            holds.update()
            .where(holds.c.id == hold_id, _standing(at))
            .values(lifted_by=by, lifted_by_person=person, lifted_at=at, lift_reason=reason)
        )
        if result.rowcount != 1:
            return False
        self._mirror_hold(hold_id, at)
        return True

    def record_expiry(self, hold_id: str, *, at: datetime) -> bool:
        """Record that the hold's end time passed; False when it was lifted or
        recorded meanwhile (another worker)."""
        result = self._conn.execute(
            holds.update()
            .where(
                holds.c.id == hold_id,
                holds.c.lifted_at.is_(None),
                holds.c.expired_at.is_(None),
                holds.c.ends_at <= at,
            )
            .values(expired_at=at)
        )
        if result.rowcount != 1:
            return False
        self._mirror_hold(hold_id, at)
        return True

    def due_to_end(self, now: datetime, *, limit: int = 100) -> list[HoldRecord]:
        """Holds whose end time passed but whose expiry is not recorded yet."""
        query = (
            select(holds)
            .where(
                holds.c.lifted_at.is_(None),
                holds.c.expired_at.is_(None),
                holds.c.ends_at <= now,
            )
            .order_by(holds.c.ends_at, holds.c.id)
            .limit(limit)
        )
        return [hold_from_row(r) for r in self._conn.execute(query)]

    def standing_on(
        self, subject_id: str, groups: frozenset[str], now: datetime
    ) -> list[HoldRecord]:
        """Holds standing at ``now`` on the subject or on one of ``groups``,
        oldest first."""
        target = holds.c.subject_id == subject_id
        if groups:
            target = or_(target, holds.c.group_name.in_(sorted(groups)))
        query = select(holds).where(target, _standing(now)).order_by(holds.c.set_at, holds.c.id)
        return [hold_from_row(r) for r in self._conn.execute(query)]

    def standing_kinds(
        self, subjects: Mapping[str, frozenset[str]], now: datetime
    ) -> dict[str, frozenset[str]]:
        """For each subject id (with its groups), the kinds of the holds standing
        on it or its groups at ``now``; subjects without one are absent."""
        found: dict[str, set[str]] = {}
        for rows in _ON_SUBJECTS.execute(self._conn, subjects, {"now": now}):
            for row in rows:
                found.setdefault(row.subject_id, set()).add(row.kind)
        groups = set().union(*subjects.values()) if subjects else set()
        by_group: dict[str, set[str]] = {}
        for rows in _ON_GROUPS.execute(self._conn, groups, {"now": now}):
            for row in rows:
                by_group.setdefault(row.group_name, set()).add(row.kind)
        for subject_id, subject_groups in subjects.items():
            for group in subject_groups & by_group.keys():
                found.setdefault(subject_id, set()).update(by_group[group])
        return {subject_id: frozenset(kinds) for subject_id, kinds in found.items()}

    def set_by(
        self, subject_ids: Iterable[str], groups: Iterable[str], at: datetime
    ) -> list[HoldRecord]:
        """Every hold on any of ``subject_ids`` or ``groups`` set at or before
        ``at``, whatever became of it since (to look back with
        :meth:`HoldRecord.stood_at`), oldest first."""
        found: dict[str, HoldRecord] = {}
        for column, values in ((holds.c.subject_id, subject_ids), (holds.c.group_name, groups)):
            for chunk in chunks(values):
                rows = self._conn.execute(
                    select(holds).where(column.in_(chunk), holds.c.set_at <= at)
                )
                found.update((r.id, hold_from_row(r)) for r in rows)
        return sorted(found.values(), key=lambda h: (h.set_at, h.id))

    def search(
        self,
        *,
        now: datetime,
        subject_ids: Iterable[str] | None = None,
        groups: Iterable[str] | None = None,
        status: HoldStatus | None = None,
        limit: int = 500,
    ) -> list[HoldRecord]:
        """Holds newest first, on any of ``subject_ids`` or ``groups`` when given
        (None: no restriction on that side; both None: every hold), in
        ``status`` at ``now`` when given."""
        conditions: list[Any] = []
        targets = []
        if subject_ids is not None:
            targets.append(holds.c.subject_id.in_(sorted(set(subject_ids))))
        if groups is not None:
            targets.append(holds.c.group_name.in_(sorted(set(groups))))
        if targets:
            conditions.append(or_(*targets))
        if status == HoldStatus.STANDING:
            conditions.append(_standing(now))
        elif status == HoldStatus.LIFTED:
            conditions.append(holds.c.lifted_at.is_not(None))
        elif status == HoldStatus.EXPIRED:
            conditions.append(and_(holds.c.lifted_at.is_(None), _ended(now)))
        query = (
            select(holds)
            .where(*conditions)
            .order_by(holds.c.set_at.desc(), holds.c.id)
            .limit(limit)
        )
        return [hold_from_row(r) for r in self._conn.execute(query)]
