"""Authenticators bound to subjects, with their lifecycle (R-36), the WebAuthn
credentials behind some of them, and single-use WebAuthn challenges.

Rows are never deleted: revoking sets ``revoked_at`` and a reason. Binding and
revoking keep ``subjects.mfa_bound`` equal to "an active TOTP or WebAuthn
authenticator exists", so ``Subject.mfa_bound`` reflects what is bound.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from custos.domain.enrolment import Authenticator, AuthenticatorKind, mfa_bound
from custos.store.bulk import chunks
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import (
    authenticators,
    pending_totp,
    recovery_codes,
    subjects,
    totp_enrolments,
    webauthn_challenges,
    webauthn_credentials,
)


@dataclass(frozen=True, slots=True)
class StoredCredential:
    authenticator_id: str
    subject_id: str
    credential_id: str
    public_key: bytes
    sign_count: int


@dataclass(frozen=True, slots=True)
class StoredChallenge:
    id: int
    challenge: str
    purpose: str
    subject_id: str
    session_id: int | None
    case_id: str | None
    user_verification: bool
    expires_at: datetime


def _authenticator(r: Any) -> Authenticator:
    return Authenticator(
        id=r.id,
        subject_id=r.subject_id,
        kind=AuthenticatorKind(r.kind),
        label=r.label,
        bound_at=aware(r.bound_at),
        bound_by=r.bound_by,
        last_used_at=maybe_aware(r.last_used_at),
        revoked_at=maybe_aware(r.revoked_at),
        revoked_reason=r.revoked_reason,
    )


def _in_history_order(found: Iterable[Authenticator]) -> list[Authenticator]:
    """Oldest first; of two bound at the same instant, a revoked one first."""
    return sorted(found, key=lambda a: (a.bound_at, a.active, a.id))


class AuthenticatorRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- lifecycle ---------------------------------------------------------------
    def bind(
        self, subject_id: str, kind: AuthenticatorKind, *, label: str, by: str, now: datetime
    ) -> Authenticator:
        new_id = str(uuid.uuid4())
        self._conn.execute(
            authenticators.insert().values(
                id=new_id,
                subject_id=subject_id,
                kind=str(kind),
                label=label[:100],
                bound_at=now,
                bound_by=by,
            )
        )
        self._sync_mfa(subject_id)
        return Authenticator(
            id=new_id,
            subject_id=subject_id,
            kind=kind,
            label=label[:100],
            bound_at=now,
            bound_by=by,
        )

    def revoke(self, authenticator_id: str, *, reason: str, now: datetime) -> Authenticator | None:
        """Revoke one active authenticator; None when it was not active."""
        row = self._conn.execute(
            select(authenticators).where(authenticators.c.id == authenticator_id)
        ).first()
        result = self._conn.execute(
            authenticators.update()
            .where(authenticators.c.id == authenticator_id, authenticators.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason[:200])
        )
        if row is None or int(result.rowcount) != 1:
            return None
        self._sync_mfa(row.subject_id)
        return replace(_authenticator(row), revoked_at=now, revoked_reason=reason[:200])

    def revoke_kind(
        self, subject_id: str, kind: AuthenticatorKind, *, reason: str, now: datetime
    ) -> list[Authenticator]:
        revoked = [self.revoke(a.id, reason=reason, now=now) for a in self.active(subject_id, kind)]
        return [a for a in revoked if a is not None]

    def revoke_all(self, subject_id: str, *, reason: str, now: datetime) -> list[Authenticator]:
        """Revoke every active authenticator of the subject (a reissue): its TOTP
        secret and unused saved codes are deleted with them, its WebAuthn
        credentials stop counting (they follow their authenticator). Returns
        the authenticators revoked; their history rows stay (R-36)."""
        revoked = [self.revoke(a.id, reason=reason, now=now) for a in self.active(subject_id)]
        self.discard_unused_codes(subject_id)
        self._conn.execute(
            totp_enrolments.delete().where(totp_enrolments.c.subject_id == subject_id)
        )
        return [a for a in revoked if a is not None]

    def void_pending(self, subject_id: str, *, now: datetime) -> int:
        """Spend every live enrolment or sign-in ceremony of the subject (TOTP
        secrets shown and awaiting their first code, WebAuthn challenges and
        case links): none may bind or prove anything after a reissue. Returns
        how many were voided."""
        voided = 0
        for table in (pending_totp, webauthn_challenges):
            result = self._conn.execute(
                table.update()
                .where(
                    table.c.subject_id == subject_id,
                    table.c.used_at.is_(None),
                    table.c.expires_at > now,
                )
                .values(used_at=now)
            )
            voided += int(result.rowcount)
        return voided

    def active_many(self, subject_ids: Iterable[str]) -> dict[str, list[Authenticator]]:
        """``active`` for many subjects (in ``history``'s order), one query per
        500 ids; a subject with none is absent."""
        found: dict[str, list[Authenticator]] = {}
        for chunk in chunks(subject_ids):
            query = select(authenticators).where(authenticators.c.subject_id.in_(chunk))
            for r in self._conn.execute(query):
                found.setdefault(r.subject_id, []).append(_authenticator(r))
        ordered = {s: [a for a in _in_history_order(f) if a.active] for s, f in found.items()}
        return {s: a for s, a in ordered.items() if a}

    def discard_secrets_many(self, subject_ids: Iterable[str]) -> None:
        """What ``revoke_all`` deletes besides revoking, for many subjects:
        their unused saved codes and TOTP enrolments."""
        for chunk in chunks(subject_ids):
            self._conn.execute(
                recovery_codes.delete().where(
                    recovery_codes.c.subject_id.in_(chunk), recovery_codes.c.used_at.is_(None)
                )
            )
            self._conn.execute(
                totp_enrolments.delete().where(totp_enrolments.c.subject_id.in_(chunk))
            )

    def void_pending_many(self, subject_ids: Iterable[str], *, now: datetime) -> dict[str, int]:
        """``void_pending`` for many subjects; how many each had voided (absent: none)."""
        voided: dict[str, int] = {}
        for chunk in chunks(subject_ids):
            for table in (pending_totp, webauthn_challenges):
                result = self._conn.execute(
                    table.update()
                    .where(
                        table.c.subject_id.in_(chunk),
                        table.c.used_at.is_(None),
                        table.c.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(table.c.subject_id)
                )
                for (subject_id,) in result:
                    voided[subject_id] = voided.get(subject_id, 0) + 1
        return voided

    def touch(self, authenticator_id: str, *, now: datetime) -> None:
        self._conn.execute(
            authenticators.update()
            .where(authenticators.c.id == authenticator_id)
            .values(last_used_at=now)
        )

    def touch_kind(self, subject_id: str, kind: AuthenticatorKind, *, now: datetime) -> None:
        for found in self.active(subject_id, kind):
            self.touch(found.id, now=now)

    def active(self, subject_id: str, kind: AuthenticatorKind | None = None) -> list[Authenticator]:
        return [
            a for a in self.history(subject_id) if a.active and (kind is None or a.kind == kind)
        ]

    def history(self, subject_id: str) -> list[Authenticator]:
        """Every authenticator ever bound to the subject, oldest first (R-36); of two
        bound at the same instant, a revoked one comes before an active one."""
        rows = self._conn.execute(
            select(authenticators).where(authenticators.c.subject_id == subject_id)
        )
        return _in_history_order(_authenticator(r) for r in rows)

    def _sync_mfa(self, subject_id: str) -> None:
        self._conn.execute(
            subjects.update()
            .where(subjects.c.id == subject_id)
            .values(mfa_bound=mfa_bound(self.active(subject_id)))
        )

    def discard_unused_codes(self, subject_id: str) -> int:
        """Delete the subject's unused saved codes (their set is being revoked)."""
        result = self._conn.execute(
            recovery_codes.delete().where(
                recovery_codes.c.subject_id == subject_id, recovery_codes.c.used_at.is_(None)
            )
        )
        return int(result.rowcount)

    # -- WebAuthn credentials ---------------------------------------------------------
    def add_credential(
        self,
        authenticator_id: str,
        subject_id: str,
        *,
        credential_id: str,
        public_key: bytes,
        sign_count: int,
        user_verified: bool,
    ) -> None:
        self._conn.execute(
            webauthn_credentials.insert().values(
                authenticator_id=authenticator_id,
                subject_id=subject_id,
                credential_id=credential_id,
                public_key=public_key,
                sign_count=sign_count,
                user_verified=user_verified,
            )
        )

    def credentials(self, subject_id: str) -> list[StoredCredential]:
        """The subject's credentials whose authenticator is active."""
        rows = self._conn.execute(
            select(webauthn_credentials)
            .join(authenticators, authenticators.c.id == webauthn_credentials.c.authenticator_id)
            .where(
                webauthn_credentials.c.subject_id == subject_id,
                authenticators.c.revoked_at.is_(None),
            )
            .order_by(authenticators.c.bound_at)
        )
        return [_credential(r) for r in rows]

    def credential_exists(self, credential_id: str) -> bool:
        row = self._conn.execute(
            select(webauthn_credentials.c.authenticator_id).where(
                webauthn_credentials.c.credential_id == credential_id
            )
        ).first()
        return row is not None

    def advance_counter(self, authenticator_id: str, *, seen: int, new: int) -> bool:
        """Store the new signature counter unless another request moved it meanwhile."""
        result = self._conn.execute(
            webauthn_credentials.update()
            .where(
                webauthn_credentials.c.authenticator_id == authenticator_id,
                webauthn_credentials.c.sign_count == seen,
            )
            .values(sign_count=new)
        )
        return int(result.rowcount) == 1

    # -- WebAuthn challenges ----------------------------------------------------------
    def add_challenge(
        self,
        challenge: str,
        *,
        purpose: str,
        subject_id: str,
        session_id: int | None = None,
        case_id: str | None = None,
        user_verification: bool,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            webauthn_challenges.insert().values(
                challenge=challenge,
                purpose=purpose,
                subject_id=subject_id,
                session_id=session_id,
                case_id=case_id,
                user_verification=user_verification,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def take_challenge(
        self,
        challenge: str,
        *,
        purpose: str,
        now: datetime,
        session_id: int | None = None,
        case_id: str | None = None,
    ) -> StoredChallenge | None:
        """Consume a live challenge issued for ``purpose`` and this session or case.
        Exactly one caller gets it, however many race; None when unknown, used,
        expired or bound to something else."""
        row = self._conn.execute(
            select(webauthn_challenges).where(webauthn_challenges.c.challenge == challenge)
        ).first()
        if (
            row is None
            or row.purpose != purpose
            or row.session_id != session_id
            or row.case_id != case_id
        ):
            return None
        result = self._conn.execute(
            webauthn_challenges.update()
            .where(
                webauthn_challenges.c.id == row.id,
                webauthn_challenges.c.used_at.is_(None),
                webauthn_challenges.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if int(result.rowcount) != 1:
            return None
        return StoredChallenge(
            id=row.id,
            challenge=row.challenge,
            purpose=row.purpose,
            subject_id=row.subject_id,
            session_id=row.session_id,
            case_id=row.case_id,
            user_verification=bool(row.user_verification),
            expires_at=aware(row.expires_at),
        )

    def live_challenge(
        self, challenge: str, *, purpose: str, now: datetime
    ) -> StoredChallenge | None:
        """A live, unused challenge (help-desk links, by digest), not consumed."""
        row = self._conn.execute(
            select(webauthn_challenges).where(
                webauthn_challenges.c.challenge == challenge,
                webauthn_challenges.c.purpose == purpose,
                webauthn_challenges.c.used_at.is_(None),
                webauthn_challenges.c.expires_at > now,
            )
        ).first()
        if row is None:
            return None
        return StoredChallenge(
            id=row.id,
            challenge=row.challenge,
            purpose=row.purpose,
            subject_id=row.subject_id,
            session_id=row.session_id,
            case_id=row.case_id,
            user_verification=bool(row.user_verification),
            expires_at=aware(row.expires_at),
        )

    # -- TOTP awaiting its first code ---------------------------------------------------
    def add_pending_totp(
        self,
        subject_id: str,
        session_id: int,
        sealed: bytes,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        result = self._conn.execute(
            pending_totp.insert().values(
                subject_id=subject_id,
                session_id=session_id,
                sealed_secret=sealed,
                created_at=now,
                expires_at=expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def pending_totp(
        self, pending_id: int, *, subject_id: str, session_id: int, now: datetime
    ) -> bytes | None:
        """The sealed secret of a live, unused pending enrolment of this session."""
        row = self._conn.execute(
            select(pending_totp).where(
                pending_totp.c.id == pending_id,
                pending_totp.c.subject_id == subject_id,
                pending_totp.c.session_id == session_id,
                pending_totp.c.used_at.is_(None),
                pending_totp.c.expires_at > now,
            )
        ).first()
        return None if row is None else bytes(row.sealed_secret)

    def consume_pending_totp(self, pending_id: int, *, now: datetime) -> bool:
        result = self._conn.execute(
            pending_totp.update()
            .where(pending_totp.c.id == pending_id, pending_totp.c.used_at.is_(None))
            .values(used_at=now)
        )
        return int(result.rowcount) == 1


def _credential(r: Any) -> StoredCredential:
    return StoredCredential(
        authenticator_id=r.authenticator_id,
        subject_id=r.subject_id,
        credential_id=r.credential_id,
        public_key=bytes(r.public_key),
        sign_count=int(r.sign_count),
    )
