"""Temporary Access Passes a reissue issued (docs/policy.md#temporary_access_pass):
the subject's one-time link as its digest only, the pass sealed under its case
and row until the link is opened or lapses, and whether the worker deleted the
pass on its target."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from custos.store.mapping import aware, maybe_aware
from custos.store.tables import cases
from custos.store.tap_tables import temporary_access_passes as taps


@dataclass(frozen=True, slots=True)
class IssuedPass:
    id: int
    case_id: str
    subject_id: str
    target: str
    account_id: str
    method_id: str
    lifetime_minutes: int
    usable_once: bool
    delete_on_completion: bool
    issued_at: datetime
    link_expires_at: datetime
    retrieved_at: datetime | None
    deleted_at: datetime | None
    #: The sealed pass; None once retrieved, lapsed or deleted.
    blob: bytes | None


class TapRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        case_id: str,
        subject_id: str,
        target: str,
        account_id: str,
        method_id: str,
        lifetime_minutes: int,
        usable_once: bool,
        delete_on_completion: bool,
        digest: str,
        now: datetime,
        link_expires_at: datetime,
    ) -> int:
        """Insert a pass without its value (sealed under the id it gets:
        :meth:`put_sealed`); return the id."""
        result = self._conn.execute(
            taps.insert().values(
                case_id=case_id,
                subject_id=subject_id,
                target=target,
                account_id=account_id,
                method_id=method_id,
                lifetime_minutes=lifetime_minutes,
                usable_once=usable_once,
                delete_on_completion=delete_on_completion,
                digest=digest,
                issued_at=now,
                link_expires_at=link_expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def put_sealed(self, row_id: int, blob: bytes) -> None:
        self._conn.execute(taps.update().where(taps.c.id == row_id).values(blob=blob))

    def by_digest(self, digest: str) -> IssuedPass | None:
        row = self._conn.execute(select(taps).where(taps.c.digest == digest)).first()
        return None if row is None else _pass(row)

    def of_case(self, case_id: str) -> list[IssuedPass]:
        rows = self._conn.execute(select(taps).where(taps.c.case_id == case_id).order_by(taps.c.id))
        return [_pass(r) for r in rows]

    def live_for(self, case_id: str, target: str, account_id: str) -> IssuedPass | None:
        """The pass of this case on this account not yet deleted, if any."""
        row = self._conn.execute(
            select(taps).where(
                taps.c.case_id == case_id,
                taps.c.target == target,
                taps.c.account_id == account_id,
                taps.c.deleted_at.is_(None),
            )
        ).first()
        return None if row is None else _pass(row)

    def take(self, row_id: int, *, now: datetime) -> bool:
        """Mark the link opened and wipe the sealed pass. True for exactly one
        caller, however many race (a guarded UPDATE decided by the database)."""
        result = self._conn.execute(
            taps.update()
            .where(
                taps.c.id == row_id,
                taps.c.retrieved_at.is_(None),
                taps.c.blob.is_not(None),
                taps.c.link_expires_at > now,
            )
            .values(retrieved_at=now, blob=None)
        )
        return int(result.rowcount) == 1

    def undeleted(self, ended: Collection[str]) -> list[IssuedPass]:
        """Every pass not yet deleted on its target that the worker's sweep may
        still delete: unopened, to be deleted once its case completed, or of a
        case in one of the ``ended`` states."""
        rows = self._conn.execute(
            select(taps)
            .join(cases, cases.c.id == taps.c.case_id)
            .where(
                taps.c.deleted_at.is_(None),
                or_(
                    taps.c.retrieved_at.is_(None),
                    taps.c.delete_on_completion.is_(True),
                    cases.c.state.in_(sorted(ended)),
                ),
            )
            .order_by(taps.c.id)
        )
        return [_pass(r) for r in rows]

    def mark_deleted(self, row_id: int, *, now: datetime, reason: str) -> bool:
        """Record the pass deleted (its sealed value wiped); True for one caller."""
        result = self._conn.execute(
            taps.update()
            .where(taps.c.id == row_id, taps.c.deleted_at.is_(None))
            .values(deleted_at=now, delete_reason=reason[:200], blob=None)
        )
        return int(result.rowcount) == 1


def _pass(row: Any) -> IssuedPass:
    return IssuedPass(
        id=row.id,
        case_id=row.case_id,
        subject_id=row.subject_id,
        target=row.target,
        account_id=row.account_id,
        method_id=row.method_id,
        lifetime_minutes=int(row.lifetime_minutes),
        usable_once=bool(row.usable_once),
        delete_on_completion=bool(row.delete_on_completion),
        issued_at=aware(row.issued_at),
        link_expires_at=aware(row.link_expires_at),
        retrieved_at=maybe_aware(row.retrieved_at),
        deleted_at=maybe_aware(row.deleted_at),
        blob=row.blob,
    )
