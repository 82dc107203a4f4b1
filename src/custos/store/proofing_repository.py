"""Stored evidence of the assisted and re-proofing methods: proofed attribute
digests, used re-proofing JWT ids, attestation requests and agent challenges.
Links and codes are stored only as digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from custos.store.mapping import aware, maybe_aware
from custos.store.tables import (
    agent_challenges,
    attestation_requests,
    cases,
    proofed_attributes,
    used_jtis,
)


class ProofedAttributeRepository:
    """A subject's proofed core attributes as HMAC digests (R-4)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def replace(self, subject_id: str, digests: dict[str, str], *, now: datetime) -> None:
        """Make ``digests`` (name -> digest) the subject's whole attribute set."""
        self._conn.execute(
            proofed_attributes.delete().where(proofed_attributes.c.subject_id == subject_id)
        )
        for name, digest in sorted(digests.items()):
            self._conn.execute(
                proofed_attributes.insert().values(
                    subject_id=subject_id, name=name, digest=digest, proofed_at=now
                )
            )

    def of(self, subject_id: str) -> dict[str, str]:
        rows = self._conn.execute(
            select(proofed_attributes.c.name, proofed_attributes.c.digest).where(
                proofed_attributes.c.subject_id == subject_id
            )
        )
        return {r.name: r.digest for r in rows}


class UsedJtiRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def use(
        self, *, issuer: str, jti_digest: str, case_id: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Record a result id as used. False when it was used before (a replay);
        the primary key decides among racing processes."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    used_jtis.insert().values(
                        issuer=issuer,
                        jti_digest=jti_digest,
                        case_id=case_id,
                        used_at=now,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class StoredAttestation:
    id: int
    case_id: str
    attester_id: str
    relation: str
    requested_by: str
    issued_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decision: str | None


class AttestationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        case_id: str,
        attester_id: str,
        relation: str,
        requested_by: str,
        digest: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            attestation_requests.insert().values(
                case_id=case_id,
                attester_id=attester_id,
                relation=relation,
                requested_by=requested_by,
                digest=digest,
                issued_at=now,
                expires_at=expires_at,
            )
        )

    def by_digest(self, digest: str) -> StoredAttestation | None:
        row = self._conn.execute(
            select(attestation_requests).where(attestation_requests.c.digest == digest)
        ).first()
        if row is None:
            return None
        return StoredAttestation(
            id=row.id,
            case_id=row.case_id,
            attester_id=row.attester_id,
            relation=row.relation,
            requested_by=row.requested_by,
            issued_at=aware(row.issued_at),
            expires_at=aware(row.expires_at),
            decided_at=maybe_aware(row.decided_at),
            decision=row.decision,
        )

    def live_count(self, case_id: str, now: datetime) -> int:
        query = select(func.count()).where(
            attestation_requests.c.case_id == case_id,
            attestation_requests.c.decided_at.is_(None),
            attestation_requests.c.expires_at > now,
        )
        return int(self._conn.execute(query).scalar_one())

    def issued_since(
        self, since: datetime, *, subject_id: str | None = None, attester_id: str | None = None
    ) -> int:
        """Attestation requests issued at or after ``since``: for the cases of
        ``subject_id``, or to ``attester_id`` (the caps on attestation mails)."""
        query = select(func.count()).where(attestation_requests.c.issued_at >= since)
        if subject_id is not None:
            query = query.where(
                attestation_requests.c.case_id.in_(
                    select(cases.c.id).where(cases.c.subject_id == subject_id)
                )
            )
        if attester_id is not None:
            query = query.where(attestation_requests.c.attester_id == attester_id)
        return int(self._conn.execute(query).scalar_one())

    def decide(self, attestation_id: int, *, decision: str, now: datetime) -> bool:
        """Spend the link with ``decision``. True for exactly one caller, and only
        while the link is undecided and unexpired (single use, R-17)."""
        result = self._conn.execute(
            attestation_requests.update()
            .where(
                attestation_requests.c.id == attestation_id,
                attestation_requests.c.decided_at.is_(None),
                attestation_requests.c.expires_at > now,
            )
            .values(decided_at=now, decision=decision)
        )
        return int(result.rowcount) == 1


@dataclass(frozen=True, slots=True)
class StoredChallenge:
    id: int
    case_id: str
    subject_id: str
    mode: str
    code_digest: str | None
    attempts: int
    state: str
    issued_at: datetime
    expires_at: datetime


def _challenge(r: Any) -> StoredChallenge:
    return StoredChallenge(
        id=r.id,
        case_id=r.case_id,
        subject_id=r.subject_id,
        mode=r.mode,
        code_digest=r.code_digest,
        attempts=r.attempts,
        state=r.state,
        issued_at=aware(r.issued_at),
        expires_at=aware(r.expires_at),
    )


class ChallengeRepository:
    """Agent challenges: ``pending`` until ``passed``, ``failed`` or
    ``superseded`` (a newer challenge of the same case); expiry is read from
    ``expires_at``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        case_id: str,
        subject_id: str,
        mode: str,
        requested_by: str,
        digest: str,
        code_digest: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        self._conn.execute(
            agent_challenges.insert().values(
                case_id=case_id,
                subject_id=subject_id,
                mode=mode,
                requested_by=requested_by,
                digest=digest,
                code_digest=code_digest,
                attempts=0,
                state="pending",
                issued_at=now,
                expires_at=expires_at,
            )
        )

    def by_digest(self, digest: str) -> StoredChallenge | None:
        row = self._conn.execute(
            select(agent_challenges).where(agent_challenges.c.digest == digest)
        ).first()
        return None if row is None else _challenge(row)

    def for_case(self, case_id: str) -> list[StoredChallenge]:
        rows = self._conn.execute(
            select(agent_challenges)
            .where(agent_challenges.c.case_id == case_id)
            .order_by(agent_challenges.c.id)
        )
        return [_challenge(r) for r in rows]

    def issued_since(
        self, *, since: datetime, case_id: str | None = None, subject_id: str | None = None
    ) -> int:
        query = select(func.count()).where(agent_challenges.c.issued_at >= since)
        if case_id is not None:
            query = query.where(agent_challenges.c.case_id == case_id)
        if subject_id is not None:
            query = query.where(agent_challenges.c.subject_id == subject_id)
        return int(self._conn.execute(query).scalar_one())

    def supersede_pending(self, case_id: str, *, now: datetime) -> int:
        result = self._conn.execute(
            agent_challenges.update()
            .where(agent_challenges.c.case_id == case_id, agent_challenges.c.state == "pending")
            .values(state="superseded", answered_at=now)
        )
        return int(result.rowcount)

    def add_attempt(self, challenge_id: int) -> None:
        self._conn.execute(
            agent_challenges.update()
            .where(agent_challenges.c.id == challenge_id)
            .values(attempts=agent_challenges.c.attempts + 1)
        )

    def finish(self, challenge_id: int, *, state: str, now: datetime) -> bool:
        """Move a pending, unexpired challenge to ``state``; True for one caller."""
        result = self._conn.execute(
            agent_challenges.update()
            .where(
                agent_challenges.c.id == challenge_id,
                agent_challenges.c.state == "pending",
                agent_challenges.c.expires_at > now,
            )
            .values(state=state, answered_at=now)
        )
        return int(result.rowcount) == 1
