"""Gathering what the pure risk signals need (``risk/signals.py``) from the store,
the configuration and the GeoIP database, for one recovery request."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from custos.domain.model import Channel, Subject
from custos.risk.geo import GeoLookup, Sighting
from custos.risk.signals import RiskContext
from custos.service.notices import sms
from custos.service.ports import Services
from custos.store.case_repository import RECENT_FAILURE_WINDOW, RECENT_RECOVERY_WINDOW
from custos.store.geoip import MaxMindLookup
from custos.store.unit_of_work import UnitOfWork

#: Requests from one source for other subjects are counted over this window.
VELOCITY_WINDOW = timedelta(hours=1)
#: Contact and MFA changes this recent raise the risk.
FACTOR_CHANGE_WINDOW = timedelta(days=7)
#: Ledger event types that are contact or authenticator changes.
FACTOR_CHANGE_PREFIXES = ("enrolment:",)
#: Scope of an incident declared for everyone (``custos incident start``).
GLOBAL_INCIDENT = "*"


@cache
def _maxmind(path: Path) -> MaxMindLookup:
    return MaxMindLookup(path)


def geo_lookup(svc: Services) -> GeoLookup | None:
    """The configured GeoIP database, opened once per process; None when unset."""
    path = svc.settings.geoip_database
    return None if path is None else _maxmind(path)


def gather(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    channel: Channel,
    source_address: str | None,
    device_digest: str | None,
    flow_digest: str | None,
    now: datetime,
    geo: GeoLookup | None = None,
) -> RiskContext:
    """The risk context of a request for ``subject``. ``geo`` overrides the
    configured GeoIP database (tests, other providers)."""
    lookup = geo if geo is not None else geo_lookup(svc)
    location = last = None
    if lookup is not None and source_address is not None:
        location = lookup.locate(source_address)
        previous = uow.risk.last_source(subject.id)
        point = None if previous is None else lookup.locate(previous.source_address)
        if previous is not None and point is not None:
            last = Sighting(point, previous.at)
    velocity = 0
    if source_address is not None:
        velocity = uow.risk.requests_from_source(
            source_address, now - VELOCITY_WINDOW, other_than=subject.id, exclude_flow=flow_digest
        )
    return RiskContext(
        channel=channel,
        privileged=subject.privileged,
        now=now,
        subject_time_zone=subject.time_zone,
        recent_recoveries=uow.cases.recent_count(subject.id, now - RECENT_RECOVERY_WINDOW),
        recent_proofing_failures=uow.cases.recent_failed_proofs(
            subject.id, now - RECENT_FAILURE_WINDOW
        ),
        source_address=source_address,
        known_sources=uow.cases.known_sources(subject.id),
        incident_flag=uow.risk.incident_applies(subject.groups, GLOBAL_INCIDENT),
        source_requests_last_hour=velocity,
        device_known=None
        if device_digest is None
        else uow.risk.device_known(subject.id, device_digest),
        location=location,
        last_sighting=last,
        recent_factor_changes=uow.risk.events_since(
            subject.id, FACTOR_CHANGE_PREFIXES, now - FACTOR_CHANGE_WINDOW
        ),
        sim_swap_recent=sms.sim_swap_recent(svc, uow, subject.id, now),
        last_activity=uow.risk.last_activity(subject.id),
        dormant_after=timedelta(days=svc.settings.dormant_after_days),
    )
