"""Recovery contacts with their lifecycle (R-14, R-23): added, confirmed, removed.

A contact counts (``Subject.contacts``) only while confirmed and not removed.
Rows are never deleted, so the history of every address stays (R-36).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from custos.domain.model import Contact, ContactKind
from custos.domain.phones import e164
from custos.store.bulk import ByIds
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import subject_contacts

#: The confirmed, not removed contacts of a chunk of subjects, in id order
#: (``confirmed_many``).
_CONFIRMED = ByIds(
    subject_contacts.c.subject_id,
    lambda in_: (
        select(subject_contacts.c.subject_id, subject_contacts.c.kind, subject_contacts.c.address)
        .where(
            in_,
            subject_contacts.c.removed_at.is_(None),
            subject_contacts.c.confirmed_at.is_not(None),
        )
        .order_by(subject_contacts.c.id)
    ),
)


@dataclass(frozen=True, slots=True)
class StoredContact:
    id: int
    subject_id: str
    kind: ContactKind
    address: str
    added_at: datetime
    confirmed_at: datetime | None
    removed_at: datetime | None
    confirm_digest: str | None
    confirm_expires_at: datetime | None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


def _stored(r: Any) -> StoredContact:
    return StoredContact(
        id=r.id,
        subject_id=r.subject_id,
        kind=ContactKind(r.kind),
        address=r.address,
        added_at=aware(r.added_at),
        confirmed_at=maybe_aware(r.confirmed_at),
        removed_at=maybe_aware(r.removed_at),
        confirm_digest=r.confirm_digest,
        confirm_expires_at=maybe_aware(r.confirm_expires_at),
    )


class ContactRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        subject_id: str,
        kind: ContactKind,
        address: str,
        *,
        now: datetime,
        confirmed: bool = False,
        confirm_digest: str | None = None,
        confirm_expires_at: datetime | None = None,
    ) -> int:
        """Insert a contact (confirmed at once only for seeding and migration paths)."""
        result = self._conn.execute(
            subject_contacts.insert().values(
                subject_id=subject_id,
                kind=str(kind),
                address=address,
                added_at=now,
                confirmed_at=now if confirmed else None,
                confirm_digest=confirm_digest,
                confirm_expires_at=confirm_expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def current(self, subject_id: str) -> list[StoredContact]:
        """Contacts not removed, confirmed or still pending, oldest first."""
        rows = self._conn.execute(
            select(subject_contacts)
            .where(
                subject_contacts.c.subject_id == subject_id,
                subject_contacts.c.removed_at.is_(None),
            )
            .order_by(subject_contacts.c.id)
        )
        return [_stored(r) for r in rows]

    def history(self, subject_id: str) -> list[StoredContact]:
        rows = self._conn.execute(
            select(subject_contacts)
            .where(subject_contacts.c.subject_id == subject_id)
            .order_by(subject_contacts.c.id)
        )
        return [_stored(r) for r in rows]

    def confirmed(self, subject_id: str) -> tuple[Contact, ...]:
        """What ``Subject.contacts`` holds: confirmed and not removed."""
        return tuple(
            Contact(kind=c.kind, address=c.address, confirmed=True)
            for c in self.current(subject_id)
            if c.confirmed
        )

    def confirmed_many(self, subject_ids: Iterable[str]) -> dict[str, tuple[Contact, ...]]:
        """``confirmed`` for several subjects in one query per 500 ids."""
        found: dict[str, list[Contact]] = {subject_id: [] for subject_id in subject_ids}
        for rows in _CONFIRMED.execute(self._conn, found):
            for r in rows.all():
                found[r.subject_id].append(
                    Contact(kind=ContactKind(r.kind), address=r.address, confirmed=True)
                )
        return {subject_id: tuple(contacts) for subject_id, contacts in found.items()}

    def subjects_with_phone(self, number: str) -> list[str]:
        """The subjects (sorted ids) that keep the E.164 ``number`` among their
        current phone contacts, confirmed or not. Stored numbers are compared in
        E.164 form, whatever their spelling (one scan of the current phone
        contacts: a carrier's signal is rare next to everything else)."""
        rows = self._conn.execute(
            select(subject_contacts.c.subject_id, subject_contacts.c.address).where(
                subject_contacts.c.kind == str(ContactKind.SMS),
                subject_contacts.c.removed_at.is_(None),
            )
        )
        return sorted({r.subject_id for r in rows if e164(r.address) == number})

    def get(self, contact_id: int) -> StoredContact | None:
        row = self._conn.execute(
            select(subject_contacts).where(subject_contacts.c.id == contact_id)
        ).first()
        return None if row is None else _stored(row)

    def set_confirmation(self, contact_id: int, digest: str, *, expires_at: datetime) -> None:
        self._conn.execute(
            subject_contacts.update()
            .where(subject_contacts.c.id == contact_id)
            .values(confirm_digest=digest, confirm_expires_at=expires_at)
        )

    def confirm(self, contact_id: int, *, now: datetime) -> bool:
        """Mark confirmed; True for exactly one caller while the code is live."""
        result = self._conn.execute(
            subject_contacts.update()
            .where(
                subject_contacts.c.id == contact_id,
                subject_contacts.c.confirmed_at.is_(None),
                subject_contacts.c.removed_at.is_(None),
                subject_contacts.c.confirm_expires_at > now,
            )
            .values(confirmed_at=now, confirm_digest=None, confirm_expires_at=None)
        )
        return int(result.rowcount) == 1

    def void_confirmation(self, contact_id: int) -> None:
        """Forget a pending contact's code: nothing confirms it any more."""
        self._conn.execute(
            subject_contacts.update()
            .where(subject_contacts.c.id == contact_id, subject_contacts.c.confirmed_at.is_(None))
            .values(confirm_digest=None, confirm_expires_at=None)
        )

    def remove(self, contact_id: int, *, now: datetime) -> bool:
        result = self._conn.execute(
            subject_contacts.update()
            .where(subject_contacts.c.id == contact_id, subject_contacts.c.removed_at.is_(None))
            .values(removed_at=now, confirm_digest=None, confirm_expires_at=None)
        )
        return int(result.rowcount) == 1

    def store_missing(
        self, subject_id: str, contacts: tuple[Contact, ...], *, now: datetime
    ) -> None:
        """Insert the contacts of a domain Subject that have no current row yet
        (seeding, sync, tests). Never removes: removal is a command of its own."""
        present = {(c.kind, c.address.lower(), c.confirmed) for c in self.current(subject_id)}
        for contact in contacts:
            if (contact.kind, contact.address.lower(), contact.confirmed) in present:
                continue
            self.add(
                subject_id, contact.kind, contact.address, now=now, confirmed=contact.confirmed
            )
