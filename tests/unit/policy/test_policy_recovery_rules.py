"""Policy files state 800-63B-4 recovery rules per tier (R-1, R-2, R-3) and
re-proofing's minimum IAL (R-4); `custos policy check` refuses broken tiers."""

from __future__ import annotations

import pytest

from custos.domain.model import Channel, RiskAssessment, Subject
from custos.policy.engine import select_requirements
from custos.policy.loader import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy

HEAD = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - name: t
    match: {kind: human}
    action: reset_token
    token_ttl: 15m
"""


def reasons(tier: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(HEAD + tier, "p.yaml")
    return [p.reason for p in info.value.problems]


def test_helpdesk_tier_without_risk_analysis_is_rejected() -> None:
    """R-1: help-desk recovery must reference a documented risk analysis."""
    tier = "    channels: [helpdesk]\n    proofing: {factors: 1, methods: [totp]}\n"
    assert reasons(tier) == [
        "tiers[0].risk_analysis: the help-desk channel needs a documented risk analysis "
        "reference (R-1)"
    ]


def test_aal1_tier_with_totp_is_rejected() -> None:
    """R-1: AAL1 accounts recover only by saved code, issued code or recovery contact."""
    tier = "    aal: 1\n    channels: [self_service]\n    proofing: {factors: 1, methods: [totp]}\n"
    assert "remove totp (R-1)" in reasons(tier)[0]


def test_aal2_tier_with_one_code_factor_is_rejected() -> None:
    """R-2: one code alone is a step-up, not a recovery."""
    tier = (
        "    aal: 2\n    channels: [self_service]\n"
        "    proofing: {factors: 1, methods: [totp, email_code]}\n"
    )
    assert "factors >= 2 (R-2)" in reasons(tier)[0]


def test_aal2_tier_with_reproofing_may_ask_one_factor() -> None:
    tier = (
        "    aal: 2\n    channels: [self_service]\n"
        "    proofing: {factors: 1, methods: [totp, email_code, reproofing], min_ial: 2}\n"
    )
    document = parse_policy(HEAD + tier, "p").document
    assert document.tiers[0].aal == 2 and document.tiers[0].proofing is not None
    assert document.tiers[0].proofing.min_ial == 2


def test_aal3_tier_offering_self_service_is_rejected() -> None:
    """R-3: AAL3 recovery only in an attended session."""
    tier = (
        "    aal: 3\n    channels: [self_service]\n"
        "    proofing: {factors: 1, methods: [reproofing], min_ial: 3}\n"
    )
    assert any("remove self_service (R-3)" in r for r in reasons(tier))


def test_min_ial_without_reproofing_is_rejected() -> None:
    tier = "    channels: [self_service]\n    proofing: {factors: 1, methods: [totp], min_ial: 2}\n"
    assert "min_ial needs 'reproofing'" in reasons(tier)[0]


def test_requirements_carry_aal_and_min_ial_from_the_default_policy() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    subject = Subject(id="root", display_name="Root", privileged=True)
    req = select_requirements(
        policy, subject, Channel.HELPDESK, RiskAssessment(score=0, band="low", reasons=())
    )
    assert (req.aal, req.min_ial) == (2, 2)
    assert {"agent_challenge", "reproofing"} <= req.methods
