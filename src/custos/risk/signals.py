"""Risk signals: small pure functions of a :class:`RiskContext`.

Each provider returns a :class:`Signal` (name, points, reason) or ``None`` when
it does not apply. :data:`DEFAULT_SIGNALS` is the v1 set; a new signal is one
function here plus one entry in that tuple (or a tuple of its own passed to
``assess``). Points are documented in ``docs/policy.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from custos.domain.model import Channel

HELPDESK_POINTS = 15
PRIVILEGED_POINTS = 30
RECENT_RECOVERY_POINTS, RECENT_RECOVERY_CAP = 15, 30
PROOFING_FAILURE_POINTS, PROOFING_FAILURE_CAP = 5, 25
NEW_SOURCE_POINTS = 15
OFF_HOURS_POINTS = 10
INCIDENT_POINTS = 20
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the risk engine knows about one recovery request.

    ``now`` must be timezone-aware. ``recent_recoveries`` counts the subject's
    recoveries in the last 30 days, ``recent_proofing_failures`` their failed
    proofing attempts in the last 7. ``known_sources`` are source addresses seen
    before for this subject. ``business_hours`` is ``(start, end)`` in whole local
    hours, start inclusive, end exclusive. Raises :class:`ValueError` when built
    with a naive ``now``, negative counts or impossible business hours.
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

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("RiskContext.now must be timezone-aware")
        if self.recent_recoveries < 0 or self.recent_proofing_failures < 0:
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


#: The v1 signals, in the order their reasons are listed.
DEFAULT_SIGNALS: tuple[SignalProvider, ...] = (
    privileged_subject,
    helpdesk_channel,
    recent_recoveries,
    recent_proofing_failures,
    new_source,
    off_hours,
    incident_in_progress,
)
