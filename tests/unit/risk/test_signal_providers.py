"""The risk signals added for issue 4: velocity, device, geo-velocity, recent
factor changes, SIM swap (R-44) and dormancy. Each fires on its own and stays
silent when nothing is known."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mmdb_writer import city, write_mmdb

from custos.domain.model import Channel
from custos.risk.geo import GeoPoint, Sighting, distance_km
from custos.risk.signals import (
    RiskContext,
    dormant_account,
    geo_velocity,
    new_device,
    recent_factor_changes,
    sim_swap,
    source_velocity,
)
from custos.store.geoip import MaxMindLookup

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
BERLIN, SYDNEY, POTSDAM = GeoPoint(52.52, 13.405), GeoPoint(-33.87, 151.21), GeoPoint(52.39, 13.06)
QUIET = RiskContext(
    channel=Channel.SELF_SERVICE,
    privileged=False,
    now=NOW,
    subject_time_zone="UTC",
    recent_recoveries=0,
    recent_proofing_failures=0,
    source_address="10.0.0.1",
    known_sources=frozenset({"10.0.0.1"}),
)


def ctx(**changes: object) -> RiskContext:
    return dataclasses.replace(QUIET, **changes)  # type: ignore[arg-type]


def test_new_fields_default_to_no_signal() -> None:
    for provider in (source_velocity, new_device, geo_velocity, recent_factor_changes, sim_swap):
        assert provider(QUIET) is None
    assert dormant_account(QUIET) is None


def test_source_velocity_fires_at_five_other_subjects() -> None:
    assert source_velocity(ctx(source_requests_last_hour=4)) is None
    signal = source_velocity(ctx(source_requests_last_hour=5))
    assert signal is not None and (signal.name, signal.points) == ("source_velocity", 20)
    assert "5 recovery requests for other accounts" in signal.reason


def test_new_device_fires_only_for_an_unseen_cookie() -> None:
    assert new_device(ctx(device_known=True)) is None
    assert new_device(ctx(device_known=None)) is None
    signal = new_device(ctx(device_known=False))
    assert signal is not None and (signal.name, signal.points) == ("new_device", 10)


def test_geo_velocity_fires_for_impossible_travel() -> None:
    hour_ago = Sighting(BERLIN, NOW - timedelta(hours=1))
    signal = geo_velocity(ctx(location=SYDNEY, last_sighting=hour_ago))
    assert signal is not None and (signal.name, signal.points) == ("geo_velocity", 25)
    assert "km/h" in signal.reason and "Sydney" not in signal.reason


def test_geo_velocity_silent_for_plausible_or_short_travel() -> None:
    a_day_ago = Sighting(BERLIN, NOW - timedelta(days=1))
    assert geo_velocity(ctx(location=SYDNEY, last_sighting=a_day_ago)) is None  # a flight
    just_now = Sighting(BERLIN, NOW - timedelta(minutes=1))
    assert geo_velocity(ctx(location=POTSDAM, last_sighting=just_now)) is None  # < 500 km
    assert geo_velocity(ctx(location=SYDNEY)) is None  # nothing to compare with


def test_distance_berlin_sydney_is_about_16000_km() -> None:
    assert 15_900 < distance_km(BERLIN, SYDNEY) < 16_200


def test_recent_factor_changes_and_sim_swap_fire() -> None:
    change = recent_factor_changes(ctx(recent_factor_changes=2))
    assert change is not None and change.points == 25 and "2 contact or MFA" in change.reason
    swap = sim_swap(ctx(sim_swap_recent=True))
    assert swap is not None and (swap.name, swap.points) == ("sim_swap", 40)


def test_dormant_account_after_the_configured_days() -> None:
    assert dormant_account(ctx(last_activity=NOW - timedelta(days=179))) is None
    signal = dormant_account(ctx(last_activity=NOW - timedelta(days=200)))
    assert signal is not None and signal.reason == "no recovery activity for 200 days"
    shorter = ctx(last_activity=NOW - timedelta(days=31), dormant_after=timedelta(days=30))
    assert dormant_account(shorter) is not None


def test_negative_new_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        ctx(source_requests_last_hour=-1)


def test_maxmind_lookup_reads_a_real_mmdb_file(tmp_path: Path) -> None:
    """The MaxMind reader over an MMDB file written by the test itself."""
    path = write_mmdb(
        tmp_path / "geo.mmdb",
        {"10.1.0.0/16": city(52.52, 13.405, "DE"), "10.2.0.0/16": city(-33.87, 151.21, "AU")},
    )
    lookup = MaxMindLookup(path)
    assert lookup.locate("10.1.200.3") == GeoPoint(52.52, 13.405, "DE")
    assert lookup.locate("10.2.0.1") == GeoPoint(-33.87, 151.21, "AU")
    assert lookup.locate("10.3.0.1") is None
    assert lookup.locate("not an address") is None
    assert lookup.locate("2001:db8::1") is None  # IPv6 in an IPv4 database
    lookup.close()
