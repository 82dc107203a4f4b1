"""Service-account rotations and the grace periods of old credentials
(``store/rotation_tables.py``; docs/service-accounts.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from custos.store.mapping import aware, maybe_aware
from custos.store.rotation_tables import credential_graces, service_rotations


@dataclass(frozen=True, slots=True)
class RotationRecord:
    case_id: str
    service_id: str
    owner_id: str
    sealed_secret: bytes | None
    grace_s: int
    created_at: datetime
    expires_at: datetime
    retrieved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Grace:
    """An old credential a target kept (R-40), and when it is revoked."""

    id: int
    case_id: str
    target: str
    account_id: str
    kept_at: datetime
    revoke_after: datetime
    revoked_at: datetime | None
    answer: str | None


class RotationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def service_ids(self) -> list[str]:
        return service_account_ids(self._conn)

    def service_ages(self) -> dict[str, datetime]:
        """Per service account, since when its credential is known to Custos:
        the last value Custos issued, else when the account was first recorded."""
        from custos.store.tables import subjects

        rows = self._conn.execute(
            select(subjects.c.id, subjects.c.created_at).where(subjects.c.kind == "service")
        )
        since = {row.id: aware(row.created_at) for row in rows}
        since.update(self.last_rotated(since))
        return since

    def open_case_ids(self, subject_ids: Iterable[str]) -> set[str]:
        """The subjects among ``subject_ids`` with a case not yet closed."""
        from custos.domain.states import TERMINAL
        from custos.store.tables import cases

        wanted = sorted(set(subject_ids))
        if not wanted:
            return set()
        rows = self._conn.execute(
            select(cases.c.subject_id).where(
                cases.c.subject_id.in_(wanted), cases.c.state.not_in([str(s) for s in TERMINAL])
            )
        )
        return {row.subject_id for row in rows}

    def add(
        self,
        *,
        case_id: str,
        service_id: str,
        owner_id: str,
        digest: str,
        sealed: bytes,
        grace_s: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            service_rotations.insert().values(
                case_id=case_id,
                service_id=service_id,
                owner_id=owner_id,
                retrieval_digest=digest,
                sealed_secret=sealed,
                grace_s=grace_s,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def for_case(self, case_id: str) -> RotationRecord | None:
        row = self._conn.execute(
            select(service_rotations).where(service_rotations.c.case_id == case_id)
        ).first()
        return None if row is None else _record(row)

    def by_digest(self, digest: str) -> RotationRecord | None:
        row = self._conn.execute(
            select(service_rotations).where(service_rotations.c.retrieval_digest == digest)
        ).first()
        return None if row is None else _record(row)

    def take(self, case_id: str, *, now: datetime) -> bool:
        """Mark the retrieval done and wipe the sealed secret. True for exactly
        one caller, however many race (the guarded update)."""
        result = self._conn.execute(
            service_rotations.update()
            .where(
                service_rotations.c.case_id == case_id,
                service_rotations.c.retrieved_at.is_(None),
                service_rotations.c.sealed_secret.is_not(None),
            )
            .values(retrieved_at=now, sealed_secret=None)
        )
        return result.rowcount == 1

    def wipe_lapsed(self, now: datetime) -> list[str]:
        """Wipe the secrets whose link lapsed unretrieved; returns their cases."""
        ids = list(
            self._conn.execute(
                select(service_rotations.c.case_id).where(
                    service_rotations.c.sealed_secret.is_not(None),
                    service_rotations.c.expires_at <= now,
                )
            ).scalars()
        )
        if ids:
            self._conn.execute(
                service_rotations.update()
                .where(service_rotations.c.case_id.in_(ids))
                .values(sealed_secret=None)
            )
        return ids

    def last_rotated(self, service_ids: Iterable[str]) -> dict[str, datetime]:
        """When Custos last issued a secret for each service account (absent: never)."""
        wanted = sorted(set(service_ids))
        if not wanted:
            return {}
        rows = self._conn.execute(
            select(service_rotations.c.service_id, func.max(service_rotations.c.created_at))
            .where(service_rotations.c.service_id.in_(wanted))
            .group_by(service_rotations.c.service_id)
        )
        return {row[0]: aware(row[1]) for row in rows}

    # -- grace periods -------------------------------------------------------------
    def keep(
        self, *, case_id: str, target: str, account_id: str, now: datetime, revoke_after: datetime
    ) -> None:
        self._conn.execute(
            credential_graces.insert().values(
                case_id=case_id,
                target=target,
                account_id=account_id,
                kept_at=now,
                revoke_after=revoke_after,
            )
        )

    def due_graces(self, now: datetime) -> list[Grace]:
        rows = self._conn.execute(
            select(credential_graces)
            .where(
                credential_graces.c.revoked_at.is_(None), credential_graces.c.revoke_after <= now
            )
            .order_by(credential_graces.c.id)
        )
        return [_grace(r) for r in rows]

    def graces_of(self, case_id: str) -> list[Grace]:
        rows = self._conn.execute(
            select(credential_graces)
            .where(credential_graces.c.case_id == case_id)
            .order_by(credential_graces.c.id)
        )
        return [_grace(r) for r in rows]

    def revoked(self, grace_id: int, *, now: datetime, answer: str) -> bool:
        """Record a revocation that happened (never one that did not)."""
        result = self._conn.execute(
            credential_graces.update()
            .where(credential_graces.c.id == grace_id, credential_graces.c.revoked_at.is_(None))
            .values(revoked_at=now, answer=answer[:500])
        )
        return result.rowcount == 1

    def note(self, grace_id: int, answer: str) -> None:
        """Keep a failed revocation's answer; the grace stays due (retried)."""
        self._conn.execute(
            credential_graces.update()
            .where(credential_graces.c.id == grace_id)
            .values(answer=answer[:500])
        )


def _record(r: Row[Any]) -> RotationRecord:
    return RotationRecord(
        case_id=r.case_id,
        service_id=r.service_id,
        owner_id=r.owner_id,
        sealed_secret=None if r.sealed_secret is None else bytes(r.sealed_secret),
        grace_s=int(r.grace_s),
        created_at=aware(r.created_at),
        expires_at=aware(r.expires_at),
        retrieved_at=maybe_aware(r.retrieved_at),
    )


def _grace(r: Row[Any]) -> Grace:
    return Grace(
        id=int(r.id),
        case_id=r.case_id,
        target=r.target,
        account_id=r.account_id,
        kept_at=aware(r.kept_at),
        revoke_after=aware(r.revoke_after),
        revoked_at=maybe_aware(r.revoked_at),
        answer=r.answer,
    )


def service_account_ids(conn: Connection) -> list[str]:
    """Every subject of kind ``service``, by id."""
    from custos.store.tables import subjects

    return list(
        conn.execute(
            select(subjects.c.id).where(subjects.c.kind == "service").order_by(subjects.c.id)
        ).scalars()
    )
