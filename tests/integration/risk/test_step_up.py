"""Step-up per risk band, as the tier states (extra factor, phishing-resistant
factor with an approval, or refusal), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from risk_world import POLICY, report_sim_swap, risk_world

from conftest import BACKENDS, World
from custos.domain.errors import ChannelNotAllowed
from custos.domain.events import EventType
from custos.domain.model import Case, Role
from custos.domain.states import CaseState
from custos.policy import schema
from custos.policy.loader import PolicyError, parse_policy
from custos.proofing.base import METHODS, ProofingMethodInfo
from custos.service.recovery import cases
from custos.service.signals import risk_signals
from custos.store.tables import ledger


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    yield from risk_world(request.param, tmp_path)


def open_case(world: World, subject: str) -> Case:
    if "hana" not in world.operators:
        world.operator("hana", Role.REQUESTER)
    return cases.open_helpdesk_case(
        world.svc,
        world.operators["hana"],
        subject_id=subject,
        reason="caller",
        source_address="10.0.0.1",
    )


def tier_event(world: World, case_id: str) -> dict[str, object]:
    with world.svc.engine.connect() as conn:
        (row,) = conn.execute(
            ledger.select().where(
                ledger.c.case_id == case_id, ledger.c.type == str(EventType.TIER_SELECTED)
            )
        )
    data: dict[str, object] = json.loads(row.canonical)["data"]
    return data


def test_low_band_keeps_the_tier_as_written(world: World) -> None:
    world.subject("ann")
    case = open_case(world, "ann")  # help desk + new source = 30
    req = case.requirements
    assert (req.risk_band, req.factors, req.phishing_resistant, req.approvals) == (
        "low",
        1,
        False,
        0,
    )


def test_medium_band_asks_for_a_second_factor(world: World) -> None:
    world.subject("bea", with_totp=True, codes=2)
    risk_signals.start_incident(world.svc, group=None, by="admin:t", reason="drill")
    case = open_case(world, "bea")  # 30 + incident 20 = 50
    assert (case.requirements.risk_band, case.requirements.factors) == ("medium", 2)
    result = cases.add_proof(
        world.svc, world.operators["hana"], case.id, method="totp", response=world.totp_now("bea")
    )
    assert result.state == CaseState.PROOFING  # one factor is not enough at medium
    assert tier_event(world, case.id)["factors"] == 2


def test_high_band_needs_a_phishing_resistant_factor_and_an_approval(world: World) -> None:
    world.subject("cyd", with_totp=True, codes=2)
    report_sim_swap(world, "cyd")
    case = open_case(world, "cyd")  # 30 + SIM swap 40 = 70
    req = case.requirements
    assert (req.risk_band, req.factors, req.phishing_resistant, req.approvals) == (
        "high",
        2,
        True,
        1,
    )
    hana = world.operators["hana"]
    cases.add_proof(world.svc, hana, case.id, method="totp", response=world.totp_now("cyd"))
    result = cases.add_proof(
        world.svc, hana, case.id, method="recovery_code", response=world.recovery_codes["cyd"][0]
    )
    # Two factors, neither phishing-resistant: still proofing.
    assert result.state == CaseState.PROOFING
    event = tier_event(world, case.id)
    assert event["phishing_resistant"] is True and event["approvals"] == 1


def test_high_band_refuses_where_the_tier_says_so(world: World) -> None:
    world.subject("dot", groups=("guarded",))
    report_sim_swap(world, "dot")
    with pytest.raises(ChannelNotAllowed, match="guarded accounts are not recovered"):
        open_case(world, "dot")


def test_phishing_resistant_step_up_needs_such_a_method_in_the_tier() -> None:
    without = POLICY.replace(", sms_code, webauthn]", ", sms_code]")
    with pytest.raises(PolicyError, match="phishing-resistant step-up"):
        parse_policy(without, "test.yaml")


def test_phishing_resistant_step_up_accepts_a_test_registered_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The schema path alone, with a phishing-resistant method known only here."""
    info = ProofingMethodInfo(name="test_key", phishing_resistant=True, description="test")
    monkeypatch.setitem(METHODS, "test_key", info)
    monkeypatch.setattr(schema, "KNOWN_METHODS", schema.KNOWN_METHODS | {"test_key"})
    monkeypatch.setattr(schema, "PHISHING_RESISTANT_METHODS", frozenset({"test_key"}))
    text = POLICY.replace(", sms_code, webauthn]", ", sms_code, test_key]")
    policy = parse_policy(text, "test.yaml")
    step = policy.document.tier("standard").step_up["high"]
    assert step.phishing_resistant is True
