"""Stored credential material: reset tokens (hashed), sealed secrets, enrolled
factors, issued codes and throttle counters. Nothing here is stored in clear."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, select

from custos.domain.enrolment import Authenticator, AuthenticatorKind
from custos.domain.model import SYSTEM_ACTOR
from custos.store.authenticator_repository import AuthenticatorRepository
from custos.store.bulk import ByIds, chunks
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import (
    email_codes,
    recovery_codes,
    reset_tokens,
    sealed_secrets,
    self_service_flows,
    totp_enrolments,
)

#: When each of a chunk of cases' tokens was redeemed (``redeemed_at_many``).
_REDEEMED = ByIds(
    reset_tokens.c.case_id,
    lambda in_: select(reset_tokens.c.case_id, reset_tokens.c.consumed_at).where(
        in_, reset_tokens.c.consumed_at.is_not(None)
    ),
)
#: The sealed secrets of a chunk of cases deleted, naming the cases that held
#: one (``wipe_many``: one statement, not a read and a delete).
_WIPE = ByIds(
    sealed_secrets.c.case_id,
    lambda in_: sealed_secrets.delete().where(in_).returning(sealed_secrets.c.case_id),
)


@dataclass(frozen=True, slots=True)
class StoredToken:
    id: int
    case_id: str
    subject_id: str
    digest: str
    expires_at: datetime
    consumed_at: datetime | None
    voided_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredFlow:
    handle_digest: str
    identifier: str
    subject_id: str | None
    case_id: str | None
    state: str
    source_address: str | None
    expires_at: datetime
    #: Keyed digest of the device cookie the flow started with (None: no cookie).
    device_digest: str | None = None


class TokenRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def void_live(self, subject_id: str, *, now: datetime, reason: str) -> int:
        """Void every live token of the subject; return how many."""
        result = self._conn.execute(
            reset_tokens.update()
            .where(
                reset_tokens.c.subject_id == subject_id,
                reset_tokens.c.consumed_at.is_(None),
                reset_tokens.c.voided_at.is_(None),
            )
            .values(voided_at=now, void_reason=reason)
        )
        return int(result.rowcount)

    def void_live_many(self, subject_ids: Iterable[str], *, now: datetime, reason: str) -> int:
        """``void_live`` for many subjects in one statement per chunk."""
        voided = 0
        for chunk in chunks(sorted(set(subject_ids))):
            result = self._conn.execute(
                reset_tokens.update()
                .where(
                    reset_tokens.c.subject_id.in_(chunk),
                    reset_tokens.c.consumed_at.is_(None),
                    reset_tokens.c.voided_at.is_(None),
                )
                .values(voided_at=now, void_reason=reason)
            )
            voided += int(result.rowcount)
        return voided

    def add(
        self, *, case_id: str, subject_id: str, digest: str, now: datetime, expires_at: datetime
    ) -> None:
        self._conn.execute(
            reset_tokens.insert().values(
                case_id=case_id,
                subject_id=subject_id,
                digest=digest,
                issued_at=now,
                expires_at=expires_at,
            )
        )

    def by_digest(self, digest: str) -> StoredToken | None:
        row = self._conn.execute(
            select(reset_tokens).where(reset_tokens.c.digest == digest)
        ).first()
        if row is None:
            return None
        return StoredToken(
            id=row.id,
            case_id=row.case_id,
            subject_id=row.subject_id,
            digest=row.digest,
            expires_at=aware(row.expires_at),
            consumed_at=maybe_aware(row.consumed_at),
            voided_at=maybe_aware(row.voided_at),
        )

    def redeemed_at(self, case_id: str) -> datetime | None:
        row = self._conn.execute(
            select(reset_tokens.c.consumed_at).where(
                reset_tokens.c.case_id == case_id, reset_tokens.c.consumed_at.is_not(None)
            )
        ).first()
        return None if row is None else maybe_aware(row.consumed_at)

    def redeemed_at_many(self, case_ids: Iterable[str]) -> dict[str, datetime]:
        """``redeemed_at`` for several cases; cases without a redeemed token are absent."""
        found: dict[str, datetime] = {}
        for rows in _REDEEMED.execute(self._conn, case_ids):
            for row in rows:
                found.setdefault(row.case_id, aware(row.consumed_at))
        return found

    def consume(self, token_id: int, *, now: datetime) -> bool:
        """Mark the token used. True for exactly one caller, however many race:
        the guarded UPDATE is decided by the database (R-17)."""
        result = self._conn.execute(
            reset_tokens.update()
            .where(
                reset_tokens.c.id == token_id,
                reset_tokens.c.consumed_at.is_(None),
                reset_tokens.c.voided_at.is_(None),
                reset_tokens.c.expires_at > now,
            )
            .values(consumed_at=now)
        )
        return int(result.rowcount) == 1


class SecretRepository:
    """The sealed secret of a case, held only until propagation ends."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def put_many(self, blobs: dict[str, bytes], *, now: datetime) -> None:
        """``put`` for many cases at once (case id -> sealed blob), none to be
        changed at first use (an incident campaign's random passwords)."""
        if blobs:
            self._conn.execute(
                sealed_secrets.insert(),
                [
                    {"case_id": c, "blob": b, "must_change": False, "sealed_at": now}
                    for c, b in blobs.items()
                ],
            )

    def put(self, case_id: str, blob: bytes, *, must_change: bool, now: datetime) -> None:
        self._conn.execute(
            sealed_secrets.insert().values(
                case_id=case_id, blob=blob, must_change=must_change, sealed_at=now
            )
        )

    def get(self, case_id: str) -> tuple[bytes, bool] | None:
        row = self._conn.execute(
            select(sealed_secrets).where(sealed_secrets.c.case_id == case_id)
        ).first()
        return None if row is None else (bytes(row.blob), bool(row.must_change))

    def get_many(self, case_ids: set[str]) -> dict[str, tuple[bytes, bool]]:
        rows = self._conn.execute(
            select(sealed_secrets).where(sealed_secrets.c.case_id.in_(sorted(case_ids)))
        )
        return {r.case_id: (bytes(r.blob), bool(r.must_change)) for r in rows}

    def wipe_many(self, case_ids: Iterable[str]) -> set[str]:
        """``wipe`` for several cases; returns the ids that held a secret."""
        held: set[str] = set()
        for deleted in _WIPE.execute(self._conn, case_ids):
            held.update(deleted.scalars())
        return held

    def wipe(self, case_id: str) -> bool:
        result = self._conn.execute(
            sealed_secrets.delete().where(sealed_secrets.c.case_id == case_id)
        )
        return int(result.rowcount) == 1


class EnrolmentRepository:
    """TOTP secrets (sealed) and saved recovery codes (argon2 hashes)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def set_totp(
        self, subject_id: str, sealed_secret: bytes, *, now: datetime, by: str = SYSTEM_ACTOR
    ) -> Authenticator:
        """Bind a TOTP secret, revoking any earlier one (its history row stays, R-36)."""
        lifecycle = AuthenticatorRepository(self._conn)
        lifecycle.revoke_kind(subject_id, AuthenticatorKind.TOTP, reason="replaced", now=now)
        self._conn.execute(
            totp_enrolments.delete().where(totp_enrolments.c.subject_id == subject_id)
        )
        self._conn.execute(
            totp_enrolments.insert().values(
                subject_id=subject_id, sealed_secret=sealed_secret, enrolled_at=now
            )
        )
        return lifecycle.bind(
            subject_id, AuthenticatorKind.TOTP, label="authenticator app", by=by, now=now
        )

    def totp(self, subject_id: str) -> tuple[bytes, int | None] | None:
        """The active TOTP secret (sealed) and its last used step, or None."""
        if not AuthenticatorRepository(self._conn).active(subject_id, AuthenticatorKind.TOTP):
            return None  # revoked: the secret no longer opens anything
        row = self._conn.execute(
            select(totp_enrolments).where(totp_enrolments.c.subject_id == subject_id)
        ).first()
        return None if row is None else (bytes(row.sealed_secret), row.last_used_step)

    def mark_totp_step(self, subject_id: str, step: int) -> bool:
        """Record the used step; False if an equal or later step was already used
        (a replay that raced past the first check)."""
        result = self._conn.execute(
            totp_enrolments.update()
            .where(
                totp_enrolments.c.subject_id == subject_id,
                (totp_enrolments.c.last_used_step.is_(None))
                | (totp_enrolments.c.last_used_step < step),
            )
            .values(last_used_step=step)
        )
        return int(result.rowcount) == 1

    def add_recovery_code(
        self, subject_id: str, lookup_id: str, code_hash: str, *, now: datetime
    ) -> None:
        """Add one code to the subject's active set of saved codes (bound as an
        authenticator of its own, with its history, on the first code)."""
        lifecycle = AuthenticatorRepository(self._conn)
        if not lifecycle.active(subject_id, AuthenticatorKind.RECOVERY_CODES):
            lifecycle.bind(
                subject_id,
                AuthenticatorKind.RECOVERY_CODES,
                label="saved recovery codes",
                by=SYSTEM_ACTOR,
                now=now,
            )
        self._conn.execute(
            recovery_codes.insert().values(
                subject_id=subject_id, lookup_id=lookup_id, hash=code_hash, created_at=now
            )
        )

    def unused_recovery_code(self, subject_id: str, lookup_id: str) -> tuple[int, str] | None:
        row = self._conn.execute(
            select(recovery_codes.c.id, recovery_codes.c.hash).where(
                recovery_codes.c.subject_id == subject_id,
                recovery_codes.c.lookup_id == lookup_id,
                recovery_codes.c.used_at.is_(None),
            )
        ).first()
        return None if row is None else (row.id, row.hash)

    def use_recovery_code(self, code_id: int, *, now: datetime) -> bool:
        result = self._conn.execute(
            recovery_codes.update()
            .where(recovery_codes.c.id == code_id, recovery_codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        return int(result.rowcount) == 1

    def unused_lookup_ids(self, subject_id: str) -> set[str]:
        rows = self._conn.execute(
            select(recovery_codes.c.lookup_id).where(
                recovery_codes.c.subject_id == subject_id, recovery_codes.c.used_at.is_(None)
            )
        )
        return set(rows.scalars())

    def remaining_recovery_codes(self, subject_id: str) -> int:
        return len(self.unused_lookup_ids(subject_id))


class EmailCodeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, case_id: str, digest: str, *, now: datetime, expires_at: datetime) -> None:
        self._conn.execute(
            email_codes.insert().values(
                case_id=case_id, digest=digest, issued_at=now, expires_at=expires_at
            )
        )

    def live(self, case_id: str, now: datetime) -> list[tuple[int, str]]:
        rows = self._conn.execute(
            select(email_codes.c.id, email_codes.c.digest).where(
                email_codes.c.case_id == case_id,
                email_codes.c.used_at.is_(None),
                email_codes.c.expires_at > now,
            )
        )
        return [(r.id, r.digest) for r in rows]

    def issued_since(self, case_id: str, since: datetime) -> int:
        rows = self._conn.execute(
            select(email_codes.c.id).where(
                email_codes.c.case_id == case_id, email_codes.c.issued_at >= since
            )
        )
        return len(list(rows))

    def use(self, code_id: int, *, now: datetime) -> bool:
        result = self._conn.execute(
            email_codes.update()
            .where(email_codes.c.id == code_id, email_codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        return int(result.rowcount) == 1


class FlowRepository:
    """Self-service flows: a handle (stored as a digest) that ties the anonymous
    start of a recovery to the case opened behind it, if any."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        handle_digest: str,
        *,
        identifier: str,
        source_address: str | None,
        now: datetime,
        expires_at: datetime,
        device_digest: str | None = None,
    ) -> None:
        self._conn.execute(
            self_service_flows.insert().values(
                handle_digest=handle_digest,
                identifier=identifier,
                state="pending",
                source_address=source_address,
                created_at=now,
                expires_at=expires_at,
                device_digest=device_digest,
            )
        )

    def get(self, handle_digest: str) -> StoredFlow | None:
        row = self._conn.execute(
            select(self_service_flows).where(self_service_flows.c.handle_digest == handle_digest)
        ).first()
        if row is None:
            return None
        return StoredFlow(
            handle_digest=row.handle_digest,
            identifier=row.identifier,
            subject_id=row.subject_id,
            case_id=row.case_id,
            state=row.state,
            source_address=row.source_address,
            expires_at=aware(row.expires_at),
            device_digest=row.device_digest,
        )

    def resolve(
        self,
        handle_digest: str,
        *,
        state: str,
        subject_id: str | None,
        case_id: str | None,
        identifier: str = "",
    ) -> bool:
        """Settle a pending flow. The identifier is replaced by ``identifier``
        (default empty: it is not kept; an unknown one keeps only a keyed digest)."""
        result = self._conn.execute(
            self_service_flows.update()
            .where(
                and_(
                    self_service_flows.c.handle_digest == handle_digest,
                    self_service_flows.c.state == "pending",
                )
            )
            .values(state=state, subject_id=subject_id, case_id=case_id, identifier=identifier)
        )
        return int(result.rowcount) == 1

    def pending(self, limit: int = 100) -> list[str]:
        rows = self._conn.execute(
            select(self_service_flows.c.handle_digest)
            .where(self_service_flows.c.state == "pending")
            .order_by(self_service_flows.c.created_at)
            .limit(limit)
        )
        return list(rows.scalars())
