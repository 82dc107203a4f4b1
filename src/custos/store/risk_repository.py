"""What the risk signals and the SMS method read and write: device sightings,
SIM-swap signals, incidents, SMS codes, and the history queries behind velocity,
dormancy and recent factor changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.exc import IntegrityError

from custos.store.mapping import aware, maybe_aware
from custos.store.tables import (
    cases,
    device_sightings,
    incidents,
    ledger,
    self_service_flows,
    sim_swap_signals,
    sms_codes,
    subjects,
)


@dataclass(frozen=True, slots=True)
class Incident:
    scope: str
    started_at: datetime
    started_by: str
    reason: str


@dataclass(frozen=True, slots=True)
class SourceSighting:
    """The last request for a subject that came with a source address."""

    source_address: str
    at: datetime


class RiskRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- devices ------------------------------------------------------------------
    def device_known(self, subject_id: str, device_digest: str) -> bool:
        row = self._conn.execute(
            select(device_sightings.c.subject_id).where(
                device_sightings.c.subject_id == subject_id,
                device_sightings.c.device_digest == device_digest,
            )
        ).first()
        return row is not None

    def remember_device(self, subject_id: str, device_digest: str, *, now: datetime) -> None:
        """Record that the subject passed proofing on this device (idempotent)."""
        updated = self._conn.execute(
            device_sightings.update()
            .where(
                device_sightings.c.subject_id == subject_id,
                device_sightings.c.device_digest == device_digest,
            )
            .values(last_seen_at=now)
        )
        if updated.rowcount:
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    device_sightings.insert().values(
                        subject_id=subject_id,
                        device_digest=device_digest,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                )
        except IntegrityError:
            pass  # another process recorded the same sighting first

    # -- SIM swap (R-44) --------------------------------------------------------------
    def add_sim_swap(
        self,
        *,
        subject_id: str,
        kind: str,
        provider: str,
        observed_at: datetime,
        received_at: datetime,
        request_digest: str,
    ) -> bool:
        """Store a signal; False when the same signed request was stored before."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    sim_swap_signals.insert().values(
                        subject_id=subject_id,
                        kind=kind,
                        provider=provider,
                        observed_at=observed_at,
                        received_at=received_at,
                        request_digest=request_digest,
                    )
                )
        except IntegrityError:
            return False
        return True

    def last_sim_swap(self, subject_id: str) -> datetime | None:
        """When the most recent SIM-swap or porting was observed for the subject."""
        value = self._conn.execute(
            select(func.max(sim_swap_signals.c.observed_at)).where(
                sim_swap_signals.c.subject_id == subject_id
            )
        ).scalar_one_or_none()
        return maybe_aware(value)

    # -- incidents ------------------------------------------------------------------
    def start_incident(self, scope: str, *, by: str, reason: str, now: datetime) -> bool:
        """Declare an incident for ``scope``; False if one is already running there."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    incidents.insert().values(
                        scope=scope, started_at=now, started_by=by, reason=reason
                    )
                )
        except IntegrityError:
            return False
        return True

    def stop_incident(self, scope: str) -> Incident | None:
        """End the incident of ``scope``; returns it, or None when none was running."""
        found = self.incident(scope)
        if found is not None:
            self._conn.execute(incidents.delete().where(incidents.c.scope == scope))
        return found

    def incident(self, scope: str) -> Incident | None:
        row = self._conn.execute(select(incidents).where(incidents.c.scope == scope)).first()
        if row is None:
            return None
        return Incident(row.scope, aware(row.started_at), row.started_by, row.reason)

    def incidents(self) -> list[Incident]:
        rows = self._conn.execute(select(incidents).order_by(incidents.c.scope))
        return [Incident(r.scope, aware(r.started_at), r.started_by, r.reason) for r in rows]

    def incident_applies(self, groups: frozenset[str], global_scope: str) -> bool:
        """Whether an incident runs globally or for any of ``groups``."""
        row = self._conn.execute(
            select(incidents.c.scope)
            .where(incidents.c.scope.in_([global_scope, *sorted(groups)]))
            .limit(1)
        ).first()
        return row is not None

    # -- SMS codes (R-13, R-15) ----------------------------------------------------------
    def add_sms_code(
        self, case_id: str, digest: str, *, now: datetime, expires_at: datetime
    ) -> None:
        self._conn.execute(
            sms_codes.insert().values(
                case_id=case_id, digest=digest, issued_at=now, expires_at=expires_at
            )
        )

    def live_sms_codes(self, case_id: str, now: datetime) -> list[tuple[int, str]]:
        rows = self._conn.execute(
            select(sms_codes.c.id, sms_codes.c.digest).where(
                sms_codes.c.case_id == case_id,
                sms_codes.c.used_at.is_(None),
                sms_codes.c.expires_at > now,
            )
        )
        return [(r.id, r.digest) for r in rows]

    def use_sms_code(self, code_id: int, *, now: datetime) -> bool:
        """Spend the code; True for exactly one caller (guarded UPDATE)."""
        result = self._conn.execute(
            sms_codes.update()
            .where(sms_codes.c.id == code_id, sms_codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        return int(result.rowcount) == 1

    def sms_codes_issued_since(self, case_id: str, since: datetime) -> int:
        query = select(func.count()).where(
            sms_codes.c.case_id == case_id, sms_codes.c.issued_at >= since
        )
        return int(self._conn.execute(query).scalar_one())

    # -- history -----------------------------------------------------------------------
    def requests_from_source(
        self,
        source_address: str,
        since: datetime,
        *,
        other_than: str,
        exclude_flow: str | None = None,
    ) -> int:
        """Recovery requests from ``source_address`` since ``since`` that were not
        for subject ``other_than``: self-service flows without a case (pending, or
        for an unknown identifier; ``exclude_flow`` is the one being resolved) plus
        cases opened for other subjects."""
        flows = select(func.count()).where(
            self_service_flows.c.handle_digest != (exclude_flow or ""),
            self_service_flows.c.source_address == source_address,
            self_service_flows.c.created_at >= since,
            self_service_flows.c.case_id.is_(None),
            or_(
                self_service_flows.c.subject_id.is_(None),
                self_service_flows.c.subject_id != other_than,
            ),
        )
        opened = select(func.count()).where(
            cases.c.source_address == source_address,
            cases.c.opened_at >= since,
            cases.c.subject_id != other_than,
        )
        return int(self._conn.execute(flows).scalar_one()) + int(
            self._conn.execute(opened).scalar_one()
        )

    def last_source(self, subject_id: str) -> SourceSighting | None:
        row = self._conn.execute(
            select(cases.c.source_address, cases.c.opened_at)
            .where(cases.c.subject_id == subject_id, cases.c.source_address.is_not(None))
            .order_by(cases.c.opened_at.desc())
            .limit(1)
        ).first()
        return None if row is None else SourceSighting(row.source_address, aware(row.opened_at))

    def last_activity(self, subject_id: str) -> datetime | None:
        """When the subject's last case opened or, never recovered, when Custos
        first recorded them; None for an unknown subject."""
        value = self._conn.execute(
            select(func.max(cases.c.opened_at)).where(cases.c.subject_id == subject_id)
        ).scalar_one_or_none()
        if value is None:
            value = self._conn.execute(
                select(subjects.c.created_at).where(subjects.c.id == subject_id)
            ).scalar_one_or_none()
        return maybe_aware(value)

    def events_since(self, subject_id: str, type_prefixes: tuple[str, ...], since: datetime) -> int:
        """Ledger events of the subject whose type starts with one of ``type_prefixes``."""
        query = select(func.count()).where(
            ledger.c.subject_id == subject_id,
            ledger.c.occurred_at >= since,
            or_(*(ledger.c.type.startswith(prefix) for prefix in type_prefixes)),
        )
        return int(self._conn.execute(query).scalar_one())
