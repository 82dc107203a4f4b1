"""Each risk signal firing on a real case, with its reason on the case and its
name and points in the ``risk:case:assessed`` event, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import city, write_mmdb
from risk_world import report_sim_swap, risk_world

from conftest import BACKENDS, World
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Case, Role
from custos.service.recovery import cases, self_service
from custos.service.signals import risk_signals
from custos.store.tables import ledger


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    geo = write_mmdb(
        tmp_path / "geo.mmdb",
        {"10.1.0.0/16": city(52.52, 13.405, "DE"), "10.2.0.0/16": city(-33.87, 151.21, "AU")},
    )
    yield from risk_world(request.param, tmp_path, geoip_database=geo)


def assessed(world: World, case_id: str) -> dict[str, Any]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            ledger.select().where(
                ledger.c.case_id == case_id, ledger.c.type == str(EventType.RISK_ASSESSED)
            )
        )
        (entry,) = [json.loads(r.canonical) for r in rows]
    data: dict[str, Any] = entry["data"]
    return data


def signals_of(world: World, case: Case) -> dict[str, int]:
    return {s["name"]: s["points"] for s in assessed(world, case.id)["signals"]}


def helpdesk_case(world: World, subject: str, source: str | None = None) -> Case:
    if "hana" not in world.operators:
        world.operator("hana", Role.REQUESTER)
    return cases.open_helpdesk_case(
        world.svc,
        world.operators["hana"],
        subject_id=subject,
        reason="caller",
        source_address=source,
    )


def self_service_case(world: World, subject: str, source: str, device: str | None = None) -> Case:
    flow = self_service.start(
        world.svc, identifier=subject, source_address=source, device_digest=device
    )
    case_id = self_service.case_of_flow(world.svc, flow)
    assert case_id is not None
    with world.svc.uow() as uow:
        return uow.cases.get(case_id)


def test_every_signal_is_listed_with_points_in_the_assessed_event(world: World) -> None:
    """Every fired signal and the decision are events on the case."""
    world.subject("ada")
    case = helpdesk_case(world, "ada", "10.1.0.7")
    data = assessed(world, case.id)
    assert data["signals"] == [
        {"name": "helpdesk_channel", "points": 15},
        {"name": "new_source", "points": 15},
    ]
    assert data["score"] == 30 and data["band"] == "low"
    assert data["reasons"] == list(case.risk.reasons)


def test_source_velocity_fires_after_requests_for_other_accounts(world: World) -> None:
    """One source asking for five other accounts (known or not) within the hour."""
    world.subject("ben")
    for name in ("x1", "x2", "x3", "x4", "x5"):
        self_service.start(world.svc, identifier=name, source_address="203.0.113.9")
    case = self_service_case(world, "ben", "203.0.113.9")
    assert signals_of(world, case)["source_velocity"] == 20
    assert any("5 recovery requests for other accounts" in r for r in case.risk.reasons)
    world.clock.advance(timedelta(hours=2))
    later = self_service_case(world, "ben", "203.0.113.9")
    assert "source_velocity" not in signals_of(world, later)


def test_new_device_fires_until_the_device_passed_proofing(world: World) -> None:
    """Device novelty: a device is known once the subject passed proofing on it."""
    world.subject("cleo", with_totp=True)
    first = self_service_case(world, "cleo", "10.9.0.1", device="d" * 64)
    assert signals_of(world, first)["new_device"] == 10
    flow = self_service.start(
        world.svc, identifier="cleo", source_address="10.9.0.1", device_digest="d" * 64
    )
    self_service.submit_proof(
        world.svc, handle=flow, method="totp", response=world.totp_now("cleo")
    )
    again = self_service_case(world, "cleo", "10.9.0.1", device="d" * 64)
    assert "new_device" not in signals_of(world, again)
    other = self_service_case(world, "cleo", "10.9.0.1", device="e" * 64)
    assert "new_device" in signals_of(world, other)


def test_geo_velocity_fires_for_impossible_travel(world: World) -> None:
    """Berlin, then Sydney an hour later, located with a real MMDB database."""
    world.subject("dan")
    helpdesk_case(world, "dan", "10.1.0.7")
    world.clock.advance(timedelta(hours=1))
    case = helpdesk_case(world, "dan", "10.2.0.7")
    assert signals_of(world, case)["geo_velocity"] == 25
    world.clock.advance(timedelta(days=2))
    slow = helpdesk_case(world, "dan", "10.1.0.8")
    assert "geo_velocity" not in signals_of(world, slow)


def test_recent_contact_or_mfa_change_fires_for_seven_days(world: World) -> None:
    world.subject("eve")
    with world.svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType("enrolment:contact:added"),
                    occurred_at=world.clock.now(),
                    actor="subject:eve",
                    subject_id="eve",
                    case_id=None,
                )
            ]
        )
        uow.commit()
    case = helpdesk_case(world, "eve")
    assert signals_of(world, case)["recent_factor_changes"] == 25
    world.clock.advance(timedelta(days=8))
    assert "recent_factor_changes" not in signals_of(world, helpdesk_case(world, "eve"))


def test_sim_swap_signal_raises_the_risk(world: World) -> None:
    """R-44: a carrier's SIM-swap report is a risk signal too."""
    world.subject("fay")
    report_sim_swap(world, "fay")
    case = helpdesk_case(world, "fay")
    assert signals_of(world, case)["sim_swap"] == 40


def test_dormant_account_fires_after_180_days_without_recovery(world: World) -> None:
    world.subject("gus")
    world.clock.advance(timedelta(days=200))
    case = helpdesk_case(world, "gus")
    assert signals_of(world, case)["dormant_account"] == 15
    assert "no recovery activity for 200 days (+15)" in case.risk.reasons
    assert "dormant_account" not in signals_of(world, helpdesk_case(world, "gus"))


def test_incident_flag_applies_globally_or_to_one_group(world: World) -> None:
    world.subject("hal", groups=("finance",))
    world.subject("ida", groups=("sales",))
    risk_signals.start_incident(world.svc, group="finance", by="admin:t", reason="phishing wave")
    assert signals_of(world, helpdesk_case(world, "hal"))["incident_in_progress"] == 20
    assert "incident_in_progress" not in signals_of(world, helpdesk_case(world, "ida"))
    risk_signals.stop_incident(world.svc, group="finance", by="admin:t")
    risk_signals.start_incident(world.svc, group=None, by="admin:t", reason="breach")
    assert "incident_in_progress" in signals_of(world, helpdesk_case(world, "ida"))
