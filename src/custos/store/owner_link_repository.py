"""One-time links of a shared account's owners to its new credential
(docs/shared-accounts.md): the link's digest only, the credential sealed under
the row's id and wiped when the owner opens the link, or the link is voided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from custos.store.mapping import aware, maybe_aware
from custos.store.tables import owner_links


@dataclass(frozen=True, slots=True)
class OwnerLink:
    id: int
    case_id: str
    subject_id: str
    owner: str
    expires_at: datetime
    redeemed_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    #: The sealed credential, None once the owner opened the link (or it was voided).
    blob: bytes | None
    must_change: bool


class OwnerLinkRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        case_id: str,
        subject_id: str,
        owner: str,
        digest: str,
        must_change: bool,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        """Insert a link without its credential (sealed under the id it gets:
        :meth:`put_sealed`); return the id."""
        result = self._conn.execute(
            owner_links.insert().values(
                case_id=case_id,
                subject_id=subject_id,
                owner=owner,
                digest=digest,
                must_change=must_change,
                issued_at=now,
                expires_at=expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def put_sealed(self, link_id: int, blob: bytes) -> None:
        self._conn.execute(
            owner_links.update().where(owner_links.c.id == link_id).values(blob=blob)
        )

    def by_digest(self, digest: str, *, for_update: bool = False) -> OwnerLink | None:
        query = select(owner_links).where(owner_links.c.digest == digest)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else _link(row)

    def of_case(self, case_id: str) -> list[OwnerLink]:
        rows = self._conn.execute(
            select(owner_links).where(owner_links.c.case_id == case_id).order_by(owner_links.c.id)
        )
        return [_link(r) for r in rows]

    def redeem(self, link_id: int, *, now: datetime) -> bool:
        """Mark the link opened and wipe its credential. True for exactly one
        caller, however many race (a guarded UPDATE decided by the database)."""
        result = self._conn.execute(
            owner_links.update()
            .where(
                owner_links.c.id == link_id,
                owner_links.c.redeemed_at.is_(None),
                owner_links.c.voided_at.is_(None),
                owner_links.c.expires_at > now,
            )
            .values(redeemed_at=now, blob=None)
        )
        return int(result.rowcount) == 1

    def void_live(
        self, subject_id: str, *, now: datetime, reason: str, case_id: str | None = None
    ) -> int:
        """Void every unopened link of ``subject_id`` (only those of ``case_id``
        when given), wiping its credential; return how many were voided."""
        live = [
            owner_links.c.subject_id == subject_id,
            owner_links.c.redeemed_at.is_(None),
            owner_links.c.voided_at.is_(None),
        ]
        if case_id is not None:
            live.append(owner_links.c.case_id == case_id)
        result = self._conn.execute(
            owner_links.update().where(*live).values(voided_at=now, void_reason=reason, blob=None)
        )
        return int(result.rowcount)

    def wipe_all_lapsed(self, *, now: datetime) -> int:
        """Wipe the credential of every link past its end; return how many."""
        result = self._conn.execute(
            owner_links.update()
            .where(owner_links.c.expires_at <= now, owner_links.c.blob.is_not(None))
            .values(blob=None)
        )
        return int(result.rowcount)

    def wipe_lapsed(self, case_id: str, *, now: datetime) -> int:
        """Wipe the credential of every link of ``case_id`` past its end; return how many."""
        result = self._conn.execute(
            owner_links.update()
            .where(
                owner_links.c.case_id == case_id,
                owner_links.c.expires_at <= now,
                owner_links.c.blob.is_not(None),
            )
            .values(blob=None)
        )
        return int(result.rowcount)


def _link(row: Any) -> OwnerLink:
    return OwnerLink(
        id=row.id,
        case_id=row.case_id,
        subject_id=row.subject_id,
        owner=row.owner,
        expires_at=aware(row.expires_at),
        redeemed_at=maybe_aware(row.redeemed_at),
        voided_at=maybe_aware(row.voided_at),
        void_reason=row.void_reason,
        blob=row.blob,
        must_change=bool(row.must_change),
    )
