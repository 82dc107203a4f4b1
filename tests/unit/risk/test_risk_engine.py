"""Risk v1: each signal fires on its own, points add up, the score clamps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from custos.domain.model import Channel
from custos.policy.engine import band_for
from custos.policy.loader import DEFAULT_POLICY_PATH, load_policy
from custos.risk.engine import assess, collect
from custos.risk.geo import GeoPoint, Sighting
from custos.risk.signals import (
    DEFAULT_SIGNALS,
    RiskContext,
    Signal,
    helpdesk_channel,
    incident_in_progress,
    new_source,
    off_hours,
    privileged_subject,
    recent_proofing_failures,
    recent_recoveries,
)

POLICY = load_policy(DEFAULT_POLICY_PATH)
# A Wednesday, 10:00 UTC: inside business hours in UTC.
WEDNESDAY_10_UTC = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
QUIET = RiskContext(
    channel=Channel.SELF_SERVICE,
    privileged=False,
    now=WEDNESDAY_10_UTC,
    subject_time_zone="UTC",
    recent_recoveries=0,
    recent_proofing_failures=0,
    source_address="10.0.0.1",
    known_sources=frozenset({"10.0.0.1"}),
)


def ctx(**changes: object) -> RiskContext:
    return dataclasses.replace(QUIET, **changes)  # type: ignore[arg-type]


def band_of(score: int) -> str:
    return band_for(POLICY, score)


def test_quiet_request_scores_zero() -> None:
    result = assess(QUIET, band_of)
    assert (result.score, result.band, result.reasons) == (0, "low", ())


def test_helpdesk_channel_adds_15() -> None:
    assert helpdesk_channel(ctx(channel=Channel.HELPDESK)) == Signal(
        "helpdesk_channel", 15, "help-desk request (social engineering risk)"
    )
    assert helpdesk_channel(QUIET) is None


def test_privileged_subject_adds_30() -> None:
    assert privileged_subject(QUIET) is None
    result = assess(ctx(privileged=True), band_of)
    assert result.score == 30
    assert result.reasons == ("privileged subject (+30)",)


@pytest.mark.parametrize(("count", "points"), [(1, 15), (2, 30), (5, 30)])
def test_recent_recoveries_add_15_each_capped_at_30(count: int, points: int) -> None:
    signal = recent_recoveries(ctx(recent_recoveries=count))
    assert signal is not None and signal.points == points


@pytest.mark.parametrize(("count", "points"), [(1, 5), (4, 20), (5, 25), (9, 25)])
def test_recent_proofing_failures_add_5_each_capped_at_25(count: int, points: int) -> None:
    signal = recent_proofing_failures(ctx(recent_proofing_failures=count))
    assert signal is not None and signal.points == points


def test_new_source_adds_15_when_address_unknown() -> None:
    signal = new_source(ctx(source_address="203.0.113.7"))
    assert signal is not None and signal.points == 15
    assert "203.0.113.7" not in signal.reason


def test_new_source_says_first_request_when_no_source_known() -> None:
    signal = new_source(ctx(known_sources=frozenset()))
    assert signal is not None and signal.points == 15
    assert "first recorded request" in signal.reason


def test_new_source_silent_without_address() -> None:
    assert new_source(ctx(source_address=None, known_sources=frozenset())) is None


def test_incident_flag_adds_20() -> None:
    signal = incident_in_progress(ctx(incident_flag=True))
    assert signal is not None and signal.points == 20


def test_off_hours_silent_inside_business_hours() -> None:
    assert off_hours(QUIET) is None


def test_off_hours_fires_at_night_in_subject_time_zone() -> None:
    # 10:00 UTC is 19:00 in Tokyo: the end hour is already outside.
    signal = off_hours(ctx(subject_time_zone="Asia/Tokyo"))
    assert signal is not None and signal.points == 10
    assert "Wed 19:00 JST" in signal.reason


def test_off_hours_silent_when_daytime_across_time_zones() -> None:
    # 16:00 UTC is 11:00 in New York (EDT since 9 March 2025).
    now = datetime(2025, 3, 12, 16, 0, tzinfo=UTC)
    assert off_hours(ctx(now=now, subject_time_zone="America/New_York")) is None
    assert off_hours(ctx(now=now, subject_time_zone="Asia/Tokyo")) is not None


def test_off_hours_fires_on_local_weekend_when_utc_is_weekday() -> None:
    # Friday 20:00 UTC is Saturday 09:00 in Auckland.
    now = datetime(2025, 3, 14, 20, 0, tzinfo=UTC)
    signal = off_hours(ctx(now=now, subject_time_zone="Pacific/Auckland"))
    assert signal is not None and "weekend" in signal.reason


def test_off_hours_falls_back_to_utc_for_unknown_zone() -> None:
    assert off_hours(ctx(subject_time_zone="Mars/Olympus_Mons")) is None
    assert off_hours(ctx(subject_time_zone="../etc/passwd")) is None


def test_off_hours_respects_custom_business_hours() -> None:
    assert off_hours(ctx(business_hours=(11, 17))) is not None


def test_signals_add_up_with_reasons_in_order() -> None:
    """A help-desk call for a privileged subject from a new address lands in high."""
    result = assess(
        ctx(
            channel=Channel.HELPDESK,
            privileged=True,
            source_address="203.0.113.7",
            recent_proofing_failures=2,
        ),
        band_of,
    )
    assert result.score == 30 + 15 + 10 + 15
    assert result.band == "high"
    assert result.reasons == (
        "privileged subject (+30)",
        "help-desk request (social engineering risk) (+15)",
        "2 failed proofing attempts in the last 7 days (+10)",
        "new source address for this subject (+15)",
    )


def test_score_clamps_at_100() -> None:
    everything = ctx(
        channel=Channel.HELPDESK,
        privileged=True,
        recent_recoveries=3,
        recent_proofing_failures=9,
        known_sources=frozenset(),
        subject_time_zone="Asia/Tokyo",
        incident_flag=True,
        source_requests_last_hour=9,
        device_known=False,
        location=GeoPoint(-33.87, 151.21),
        last_sighting=Sighting(GeoPoint(52.52, 13.40), WEDNESDAY_10_UTC - timedelta(hours=1)),
        recent_factor_changes=1,
        sim_swap_recent=True,
        last_activity=WEDNESDAY_10_UTC - timedelta(days=400),
    )
    assert sum(s.points for s in collect(everything)) > 100
    result = assess(everything, band_of)
    assert (result.score, result.band) == (100, "high")
    assert len(result.reasons) == len(DEFAULT_SIGNALS)


def test_score_clamps_at_0_with_negative_signal() -> None:
    def trusted_device(_: RiskContext) -> Signal:
        return Signal("trusted_device", -20, "trusted device")

    result = assess(QUIET, band_of, (trusted_device,))
    assert result.score == 0
    assert result.reasons == ("trusted device (-20)",)


def test_context_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ctx(now=datetime(2025, 3, 12, 10, 0))


def test_context_rejects_impossible_business_hours() -> None:
    with pytest.raises(ValueError):
        ctx(business_hours=(19, 7))
