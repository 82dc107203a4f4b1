"""Operators' console credentials (docs/console.md#signing-in): argon2id password
hashes, second factors (TOTP secrets sealed, WebAuthn public keys), sign-ins
between their steps and one-time links, both stored as SHA-256 of their token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from custos.domain.operator_accounts import (
    FactorKind,
    LinkPurpose,
    OperatorFactor,
    PendingSignIn,
    SignInStage,
)
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import (
    operator_factors,
    operator_links,
    operator_passwords,
    operator_sign_ins,
)


@dataclass(frozen=True, slots=True)
class StoredPassword:
    hash: str
    must_change: bool
    set_at: datetime


@dataclass(frozen=True, slots=True)
class StoredTotp:
    factor_id: int
    sealed_secret: bytes
    last_step: int | None


@dataclass(frozen=True, slots=True)
class StoredKey:
    factor_id: int
    credential_id: str
    public_key: bytes
    sign_count: int


@dataclass(frozen=True, slots=True)
class StoredLink:
    id: int
    operator_id: str
    purpose: LinkPurpose


def _factor(r: Any) -> OperatorFactor:
    return OperatorFactor(
        id=r.id,
        operator_id=r.operator_id,
        kind=FactorKind(r.kind),
        label=r.label,
        created_at=aware(r.created_at),
        last_used_at=maybe_aware(r.last_used_at),
        revoked_at=maybe_aware(r.revoked_at),
    )


def _pending(r: Any) -> PendingSignIn:
    return PendingSignIn(
        id=r.id,
        operator_id=r.operator_id,
        stage=SignInStage(r.stage),
        method=r.method,
        created_at=aware(r.created_at),
        expires_at=aware(r.expires_at),
        used_at=maybe_aware(r.used_at),
    )


class OperatorCredentialRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- passwords ----------------------------------------------------------------

    def password(self, operator_id: str) -> StoredPassword | None:
        row = self._conn.execute(
            select(operator_passwords).where(operator_passwords.c.operator_id == operator_id)
        ).first()
        if row is None:
            return None
        return StoredPassword(row.hash, bool(row.must_change), aware(row.set_at))

    def set_password(
        self, operator_id: str, hash_: str, *, must_change: bool, now: datetime
    ) -> None:
        values = {"hash": hash_, "must_change": must_change, "set_at": now}
        updated = self._conn.execute(
            operator_passwords.update()
            .where(operator_passwords.c.operator_id == operator_id)
            .values(**values)
        )
        if not updated.rowcount:
            self._conn.execute(
                operator_passwords.insert().values(operator_id=operator_id, **values)
            )

    # -- second factors -------------------------------------------------------------

    def factors(self, operator_id: str, *, active_only: bool = True) -> list[OperatorFactor]:
        query = select(operator_factors).where(operator_factors.c.operator_id == operator_id)
        if active_only:
            query = query.where(operator_factors.c.revoked_at.is_(None))
        return [_factor(r) for r in self._conn.execute(query.order_by(operator_factors.c.id))]

    def add_totp(
        self, operator_id: str, sealed_secret: bytes, *, step: int, label: str, now: datetime
    ) -> OperatorFactor:
        """Bind a TOTP secret whose code ``step`` was just used (it cannot be replayed)."""
        return self._add(
            operator_id,
            FactorKind.TOTP,
            label,
            now,
            sealed_secret=sealed_secret,
            last_step=step,
        )

    def add_key(
        self,
        operator_id: str,
        *,
        credential_id: str,
        public_key: bytes,
        sign_count: int,
        label: str,
        now: datetime,
    ) -> OperatorFactor:
        return self._add(
            operator_id,
            FactorKind.WEBAUTHN,
            label,
            now,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
        )

    def _add(
        self, operator_id: str, kind: FactorKind, label: str, now: datetime, **values: Any
    ) -> OperatorFactor:
        result = self._conn.execute(
            operator_factors.insert().values(
                operator_id=operator_id, kind=str(kind), label=label[:100], created_at=now, **values
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return OperatorFactor(int(key[0]), operator_id, kind, label[:100], now)

    def totps(self, operator_id: str) -> list[StoredTotp]:
        rows = self._conn.execute(
            select(operator_factors).where(
                operator_factors.c.operator_id == operator_id,
                operator_factors.c.kind == str(FactorKind.TOTP),
                operator_factors.c.revoked_at.is_(None),
            )
        )
        return [StoredTotp(r.id, r.sealed_secret, r.last_step) for r in rows]

    def keys(self, operator_id: str) -> list[StoredKey]:
        rows = self._conn.execute(
            select(operator_factors).where(
                operator_factors.c.operator_id == operator_id,
                operator_factors.c.kind == str(FactorKind.WEBAUTHN),
                operator_factors.c.revoked_at.is_(None),
            )
        )
        return [
            StoredKey(r.id, r.credential_id, r.public_key, int(r.sign_count or 0)) for r in rows
        ]

    def credential_exists(self, credential_id: str) -> bool:
        row = self._conn.execute(
            select(operator_factors.c.id).where(operator_factors.c.credential_id == credential_id)
        ).first()
        return row is not None

    def use_totp_step(self, factor_id: int, step: int, *, now: datetime) -> bool:
        """Record ``step`` as used unless a step at or after it already was (a
        code works once, even when two requests race)."""
        result = self._conn.execute(
            operator_factors.update()
            .where(
                operator_factors.c.id == factor_id,
                operator_factors.c.revoked_at.is_(None),
                (operator_factors.c.last_step.is_(None)) | (operator_factors.c.last_step < step),
            )
            .values(last_step=step, last_used_at=now)
        )
        return int(result.rowcount) == 1

    def advance_counter(self, factor_id: int, *, seen: int, new: int, now: datetime) -> bool:
        """Store a key's new signature counter if nobody moved it meanwhile."""
        result = self._conn.execute(
            operator_factors.update()
            .where(operator_factors.c.id == factor_id, operator_factors.c.sign_count == seen)
            .values(sign_count=new, last_used_at=now)
        )
        return int(result.rowcount) == 1

    def revoke_all(self, operator_id: str, *, now: datetime, by: str) -> list[OperatorFactor]:
        """Revoke every active factor of the operator; return those revoked."""
        active = self.factors(operator_id)
        if active:
            self._conn.execute(
                operator_factors.update()
                .where(
                    operator_factors.c.operator_id == operator_id,
                    operator_factors.c.revoked_at.is_(None),
                )
                .values(revoked_at=now, revoked_by=by[:200], sealed_secret=None)
            )
        return active

    # -- sign-ins between their steps ----------------------------------------------

    def start_sign_in(
        self,
        digest: str,
        *,
        operator_id: str,
        stage: SignInStage,
        method: str,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        result = self._conn.execute(
            operator_sign_ins.insert().values(
                digest=digest,
                operator_id=operator_id,
                stage=str(stage),
                method=method,
                created_at=now,
                expires_at=expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def sign_in(self, digest: str) -> PendingSignIn | None:
        row = self._conn.execute(
            select(operator_sign_ins).where(operator_sign_ins.c.digest == digest)
        ).first()
        return None if row is None else _pending(row)

    def end_sign_in(self, sign_in_id: int, *, now: datetime) -> bool:
        """Mark the pending sign-in used; False when it already was (a race)."""
        result = self._conn.execute(
            operator_sign_ins.update()
            .where(operator_sign_ins.c.id == sign_in_id, operator_sign_ins.c.used_at.is_(None))
            .values(used_at=now, sealed_totp=None, challenge=None)
        )
        return int(result.rowcount) == 1

    def end_sign_ins_of(self, operator_id: str, *, now: datetime) -> None:
        """Every unfinished sign-in of the operator stops (disabled, factor reset)."""
        self._conn.execute(
            operator_sign_ins.update()
            .where(
                operator_sign_ins.c.operator_id == operator_id,
                operator_sign_ins.c.used_at.is_(None),
            )
            .values(used_at=now, sealed_totp=None, challenge=None)
        )

    def set_stage(self, sign_in_id: int, stage: SignInStage) -> None:
        self._conn.execute(
            operator_sign_ins.update()
            .where(operator_sign_ins.c.id == sign_in_id)
            .values(stage=str(stage), sealed_totp=None, challenge=None)
        )

    def pending_totp(self, sign_in_id: int) -> bytes | None:
        value: bytes | None = self._conn.execute(
            select(operator_sign_ins.c.sealed_totp).where(operator_sign_ins.c.id == sign_in_id)
        ).scalar()
        return value

    def set_pending_totp(self, sign_in_id: int, sealed: bytes) -> None:
        self._conn.execute(
            operator_sign_ins.update()
            .where(operator_sign_ins.c.id == sign_in_id)
            .values(sealed_totp=sealed)
        )

    def set_challenge(self, sign_in_id: int, challenge: str) -> None:
        self._conn.execute(
            operator_sign_ins.update()
            .where(operator_sign_ins.c.id == sign_in_id)
            .values(challenge=challenge)
        )

    def take_challenge(self, sign_in_id: int) -> str | None:
        """The sign-in's WebAuthn challenge, consumed: it is answered once."""
        challenge: str | None = self._conn.execute(
            select(operator_sign_ins.c.challenge).where(operator_sign_ins.c.id == sign_in_id)
        ).scalar()
        if challenge is None:
            return None
        result = self._conn.execute(
            operator_sign_ins.update()
            .where(
                operator_sign_ins.c.id == sign_in_id,
                operator_sign_ins.c.challenge == challenge,
            )
            .values(challenge=None)
        )
        return challenge if result.rowcount == 1 else None

    # -- one-time links ---------------------------------------------------------------

    def add_link(
        self,
        digest: str,
        *,
        operator_id: str,
        purpose: LinkPurpose,
        issued_by: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            operator_links.insert().values(
                digest=digest,
                operator_id=operator_id,
                purpose=str(purpose),
                issued_by=issued_by[:200],
                created_at=now,
                expires_at=expires_at,
            )
        )

    def use_link(self, digest: str, *, now: datetime) -> StoredLink | None:
        """The live link with this digest, used up at once (single use even when
        two requests race); None for an unknown, used or expired link."""
        row = self._conn.execute(
            select(operator_links).where(operator_links.c.digest == digest)
        ).first()
        if row is None or row.used_at is not None or aware(row.expires_at) <= now:
            return None
        result = self._conn.execute(
            operator_links.update()
            .where(operator_links.c.id == row.id, operator_links.c.used_at.is_(None))
            .values(used_at=now)
        )
        if result.rowcount != 1:
            return None
        return StoredLink(row.id, row.operator_id, LinkPurpose(row.purpose))

    def void_links(self, operator_id: str, purpose: LinkPurpose, *, now: datetime) -> None:
        """Unused links of the operator for ``purpose`` stop working (a new one replaces them)."""
        self._conn.execute(
            operator_links.update()
            .where(
                operator_links.c.operator_id == operator_id,
                operator_links.c.purpose == str(purpose),
                operator_links.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
