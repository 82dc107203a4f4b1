"""Risk signals: small pure functions of a :class:`RiskContext`.

Each provider returns a :class:`Signal` (name, points, reason) or ``None`` when
it does not apply. :data:`DEFAULT_SIGNALS` is the set in use; a new signal is one
function here plus one entry in that tuple (or a tuple of its own passed to
``assess``). Points are documented in ``docs/policy.md``.

Providers are pure: the service layer (``service/signals/risk_context.py``) gathers the
counts, sightings and flags into the context first. Reasons never carry an
address, a device id or a location name: they reach the ledger and notices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custos.domain.model import Channel
from custos.risk.geo import GeoPoint, Sighting, distance_km, speed_kmh

HELPDESK_POINTS = 15
PRIVILEGED_POINTS = 30
RECENT_RECOVERY_POINTS, RECENT_RECOVERY_CAP = 15, 30
PROOFING_FAILURE_POINTS, PROOFING_FAILURE_CAP = 5, 25
NEW_SOURCE_POINTS = 15
OFF_HOURS_POINTS = 10
INCIDENT_POINTS = 20
#: Other subjects' recovery requests from one source within an hour before it counts.
VELOCITY_THRESHOLD, VELOCITY_POINTS = 5, 20
NEW_DEVICE_POINTS = 10
#: Faster than an airliner between two requests, and far enough to be more than noise.
GEO_MAX_SPEED_KMH, GEO_MIN_DISTANCE_KM, GEO_VELOCITY_POINTS = 900.0, 500.0, 25
RECENT_FACTOR_CHANGE_POINTS = 25
SIM_SWAP_POINTS = 40
DORMANT_POINTS = 15
DEFAULT_DORMANT_AFTER = timedelta(days=180)
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the risk engine knows about one recovery request.

    ``now`` must be timezone-aware. ``recent_recoveries`` counts the subject's
    recoveries in the last 30 days, ``recent_proofing_failures`` their failed
    proofing attempts in the last 7. ``known_sources`` are source addresses seen
    before for this subject. ``business_hours`` is ``(start, end)`` in whole local
    hours, start inclusive, end exclusive.

    The later fields default to "nothing known", so a caller that does not gather
    them gets no signal from them: ``source_requests_last_hour`` (recovery
    requests from the same source for other subjects), ``device_known`` (None:
    the request carried no device cookie), ``location`` and ``last_sighting``
    (None: no GeoIP database or no located earlier request),
    ``recent_factor_changes`` (contact or MFA changes in the last 7 days),
    ``sim_swap_recent`` (a carrier reported a SIM swap or porting, R-44) and
    ``last_activity`` (the subject's last recovery or, failing that, when Custos
    first knew them; None: unknown). Raises :class:`ValueError` when built with a
    naive ``now``, negative counts or impossible business hours.
    """

    channel: Channel
    privileged: bool
    now: datetime
    subject_time_zone: str
    recent_recoveries: int
    recent_proofing_failures: int
    source_address: str | None
    known_sources: frozenset[str]
    business_hours: tuple[int, int] = (7, 19)
    incident_flag: bool = False
    source_requests_last_hour: int = 0
    device_known: bool | None = None
    location: GeoPoint | None = None
    last_sighting: Sighting | None = None
    recent_factor_changes: int = 0
    sim_swap_recent: bool = False
    last_activity: datetime | None = None
    dormant_after: timedelta = DEFAULT_DORMANT_AFTER

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("RiskContext.now must be timezone-aware")
        counts = (
            self.recent_recoveries,
            self.recent_proofing_failures,
            self.source_requests_last_hour,
            self.recent_factor_changes,
        )
        if min(counts) < 0:
            raise ValueError("recent counts cannot be negative")
        start, end = self.business_hours
        if not 0 <= start < end <= 24:
            raise ValueError(
                f"business_hours {self.business_hours} must satisfy 0 <= start < end <= 24"
            )

    def local_now(self) -> datetime:
        """``now`` in the subject's time zone; UTC when the zone is unknown or malformed."""
        try:
            zone = ZoneInfo(self.subject_time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            # A wrong zone on a directory record must not stop a recovery;
            # UTC is the documented fallback.
            zone = ZoneInfo("UTC")
        return self.now.astimezone(zone)


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason a request is riskier: ``points`` are added to the score."""

    name: str
    points: int
    reason: str


#: A signal provider: pure, returns a Signal or None when it does not apply.
SignalProvider = Callable[[RiskContext], Signal | None]


def helpdesk_channel(ctx: RiskContext) -> Signal | None:
    """Help-desk requests are the social-engineering path (CISA AA23-320A)."""
    if ctx.channel != Channel.HELPDESK:
        return None
    return Signal(
        "helpdesk_channel", HELPDESK_POINTS, "help-desk request (social engineering risk)"
    )


def privileged_subject(ctx: RiskContext) -> Signal | None:
    if not ctx.privileged:
        return None
    return Signal("privileged_subject", PRIVILEGED_POINTS, "privileged subject")


def recent_recoveries(ctx: RiskContext) -> Signal | None:
    """Repeated recoveries suggest someone is cycling an account they do not own."""
    if ctx.recent_recoveries <= 0:
        return None
    points = min(ctx.recent_recoveries * RECENT_RECOVERY_POINTS, RECENT_RECOVERY_CAP)
    return Signal(
        "recent_recoveries", points, f"{ctx.recent_recoveries} recoveries in the last 30 days"
    )


def recent_proofing_failures(ctx: RiskContext) -> Signal | None:
    if ctx.recent_proofing_failures <= 0:
        return None
    points = min(ctx.recent_proofing_failures * PROOFING_FAILURE_POINTS, PROOFING_FAILURE_CAP)
    return Signal(
        "recent_proofing_failures",
        points,
        f"{ctx.recent_proofing_failures} failed proofing attempts in the last 7 days",
    )


def new_source(ctx: RiskContext) -> Signal | None:
    """A source address not seen before for this subject. The first request ever
    recorded is new too; only its reason differs. The address itself stays out
    of the reason, which reaches the ledger and notifications."""
    if ctx.source_address is None or ctx.source_address in ctx.known_sources:
        return None
    reason = (
        "new source address (first recorded request for this subject)"
        if not ctx.known_sources
        else "new source address for this subject"
    )
    return Signal("new_source", NEW_SOURCE_POINTS, reason)


def off_hours(ctx: RiskContext) -> Signal | None:
    """Outside business hours or on a weekend, in the subject's own time zone."""
    local = ctx.local_now()
    start, end = ctx.business_hours
    stamp = f"{local:%a %H:%M} {local.tzname()}"
    if local.weekday() >= _SATURDAY:
        return Signal(
            "off_hours", OFF_HOURS_POINTS, f"weekend in the subject's time zone ({stamp})"
        )
    if not start <= local.hour < end:
        return Signal(
            "off_hours",
            OFF_HOURS_POINTS,
            f"outside business hours in the subject's time zone ({stamp})",
        )
    return None


def incident_in_progress(ctx: RiskContext) -> Signal | None:
    """During a declared security incident every recovery is a likelier takeover."""
    if not ctx.incident_flag:
        return None
    return Signal("incident_in_progress", INCIDENT_POINTS, "security incident in progress")


def source_velocity(ctx: RiskContext) -> Signal | None:
    """One source asking to recover many accounts is spraying or scripting."""
    if ctx.source_requests_last_hour < VELOCITY_THRESHOLD:
        return None
    return Signal(
        "source_velocity",
        VELOCITY_POINTS,
        f"{ctx.source_requests_last_hour} recovery requests for other accounts "
        "from this source in the last hour",
    )


def new_device(ctx: RiskContext) -> Signal | None:
    """The signed device cookie was never seen passing proofing for this subject."""
    if ctx.device_known is None or ctx.device_known:
        return None
    return Signal("new_device", NEW_DEVICE_POINTS, "device not seen before for this subject")


def geo_velocity(ctx: RiskContext) -> Signal | None:
    """Impossible travel: the previous located request is too far away for the
    time between them. Needs a GeoIP database (``geoip_database``)."""
    if ctx.location is None or ctx.last_sighting is None:
        return None
    distance = distance_km(ctx.last_sighting.point, ctx.location)
    speed = speed_kmh(ctx.last_sighting, ctx.location, ctx.now)
    if distance < GEO_MIN_DISTANCE_KM or speed <= GEO_MAX_SPEED_KMH:
        return None
    return Signal(
        "geo_velocity",
        GEO_VELOCITY_POINTS,
        f"impossible travel since the previous request ({distance:.0f} km at {speed:.0f} km/h)",
    )


def recent_factor_changes(ctx: RiskContext) -> Signal | None:
    """A contact or MFA change just before a recovery is the takeover pattern."""
    if ctx.recent_factor_changes <= 0:
        return None
    return Signal(
        "recent_factor_changes",
        RECENT_FACTOR_CHANGE_POINTS,
        f"{ctx.recent_factor_changes} contact or MFA change(s) in the last 7 days",
    )


def sim_swap(ctx: RiskContext) -> Signal | None:
    """The carrier reported a SIM swap or number porting (R-44)."""
    if not ctx.sim_swap_recent:
        return None
    return Signal(
        "sim_swap", SIM_SWAP_POINTS, "recent SIM swap or number porting reported by the carrier"
    )


def dormant_account(ctx: RiskContext) -> Signal | None:
    """No recovery for a long time. Custos sees recoveries, not sign-ins, so
    "dormant" means no case (or, for a subject never recovered, no record) within
    ``dormant_after``; docs/abuse-resistance.md states this limit."""
    if ctx.last_activity is None or ctx.now - ctx.last_activity < ctx.dormant_after:
        return None
    return Signal(
        "dormant_account",
        DORMANT_POINTS,
        f"no recovery activity for {(ctx.now - ctx.last_activity).days} days",
    )


#: The signals in use, in the order their reasons are listed.
DEFAULT_SIGNALS: tuple[SignalProvider, ...] = (
    privileged_subject,
    helpdesk_channel,
    recent_recoveries,
    recent_proofing_failures,
    new_source,
    source_velocity,
    new_device,
    geo_velocity,
    recent_factor_changes,
    sim_swap,
    dormant_account,
    off_hours,
    incident_in_progress,
)
