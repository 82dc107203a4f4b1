"""Tier selection over the shipped default policy, step-up and band edges."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.domain.errors import InvalidInput, RecoveryBlocked
from custos.domain.model import (
    Channel,
    CredentialAction,
    Employment,
    Hold,
    Requirements,
    RiskAssessment,
    Subject,
    SubjectKind,
)
from custos.policy.engine import band_for, select_requirements
from custos.policy.loader import DEFAULT_POLICY_PATH, LoadedPolicy, load_policy, parse_policy

POLICY = load_policy(DEFAULT_POLICY_PATH)
LOW = RiskAssessment(score=10, band="low", reasons=())
MEDIUM = RiskAssessment(score=50, band="medium", reasons=())
HIGH = RiskAssessment(score=80, band="high", reasons=())


def subject(**attrs: object) -> Subject:
    return Subject(id="u1", display_name="U One", **attrs)  # type: ignore[arg-type]


def select(s: Subject, risk: RiskAssessment = LOW, policy: LoadedPolicy = POLICY) -> Requirements:
    return select_requirements(policy, s, Channel.HELPDESK, risk)


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, "low"), (39, "low"), (40, "medium"), (69, "medium"), (70, "high"), (100, "high")],
)
def test_band_for_edges(score: int, band: str) -> None:
    assert band_for(POLICY, score) == band


@pytest.mark.parametrize("score", [-1, 101])
def test_band_for_rejects_out_of_range_score(score: int) -> None:
    with pytest.raises(ValueError):
        band_for(POLICY, score)


def test_standard_tier_selected_for_employee() -> None:
    req = select(subject())
    assert req.tier == "standard"
    assert req.action == CredentialAction.RESET_TOKEN
    assert req.channels == {Channel.SELF_SERVICE, Channel.HELPDESK}
    assert (req.factors, req.approvals) == (1, 0)
    assert req.token_ttl == timedelta(minutes=15)
    assert req.methods == {"webauthn", "totp", "recovery_code", "email_code"}


def test_privileged_tier_selected_with_dual_approval() -> None:
    """R-32: privileged recoveries need two distinct approvers from security."""
    req = select(subject(privileged=True))
    assert req.tier == "privileged"
    assert req.channels == {Channel.HELPDESK}
    assert (req.factors, req.approvals) == (2, 2)
    assert req.approver_groups == {"security-approvers"}
    assert req.approval_expiry == timedelta(hours=4)
    assert req.token_ttl == timedelta(minutes=10)
    assert "sessions_revoked" in req.post_checks


def test_contractor_tier_selected_with_the_sponsor_and_one_approval() -> None:
    """Issue 13: two factors, one always the sponsor's attestation, and an approver."""
    req = select(subject(employment=Employment.CONTRACTOR))
    assert req.tier == "contractor"
    assert (req.factors, req.approvals) == (2, 1)
    assert req.required_methods == frozenset({"manager_attestation"})
    assert req.channels == {Channel.SELF_SERVICE, Channel.HELPDESK}


def test_service_tier_selected_for_owner_request() -> None:
    req = select(subject(kind=SubjectKind.SERVICE, employment=Employment.NONE))
    assert req.tier == "service"
    assert req.channels == {Channel.OWNER_REQUEST}
    assert req.action == CredentialAction.ROTATE
    assert req.approvals == 1
    assert req.approver_groups == {"service-owners"}


def test_shared_tier_selected_for_shared_account() -> None:
    req = select(subject(kind=SubjectKind.SHARED, employment=Employment.NONE))
    assert req.tier == "shared"
    assert req.channels == {Channel.HELPDESK}
    assert (req.factors, req.approvals) == (1, 1)


@pytest.mark.parametrize("hold", [Hold.LEGAL_HOLD, Hold.INCIDENT_FREEZE])
def test_frozen_tier_blocks_subject_under_hold(hold: Hold) -> None:
    req = select(subject(privileged=True, holds=frozenset({hold})))
    assert req.tier == "frozen"
    assert req.action == CredentialAction.BLOCK
    # Every channel is allowed so the request surfaces as blocked, not mis-routed.
    assert req.channels == frozenset(Channel)


def test_catch_all_selected_for_unclassified_human() -> None:
    req = select(subject(employment=Employment.NONE))
    assert req.tier == "catch-all"
    assert req.approvals == 1


def test_requirements_freeze_policy_hash_version_and_band() -> None:
    req = select(subject(), MEDIUM)
    assert req.policy_hash == POLICY.hash
    assert req.policy_version == POLICY.document.version
    assert req.risk_band == "medium"
    assert req.case_ttl == timedelta(hours=24)
    assert req.max_proofing_failures == 5


def test_step_up_raises_factors_at_medium_risk() -> None:
    req = select(subject(), MEDIUM)
    assert (req.factors, req.approvals, req.refused) == (2, 0, False)


def test_step_up_adds_approval_at_high_risk() -> None:
    req = select(subject(), HIGH)
    assert (req.factors, req.approvals, req.refused) == (2, 1, False)


def test_step_up_refuses_at_high_risk_when_tier_says_so() -> None:
    req = select(subject(employment=Employment.NONE), HIGH)
    assert req.refused
    assert req.refusal_reason == "high-risk recovery of an unclassified subject is refused"


def test_step_up_never_lowers_tier_numbers() -> None:
    text = POLICY.text.replace("medium: {factors: 2}", "medium: {approvals: 0}")
    req = select(subject(), MEDIUM, parse_policy(text, "p"))
    assert (req.factors, req.approvals) == (1, 0)


def test_privileged_service_account_still_needs_two_approvals() -> None:
    """R-32, R-24: the privileged floor holds whichever tier matched first."""
    req = select(subject(kind=SubjectKind.SERVICE, privileged=True))
    assert req.tier == "service"
    assert req.approvals == 2
    assert "sessions_revoked" in req.post_checks


def test_first_matching_tier_wins() -> None:
    # A rotate tier matches service accounts only: the catch-all service tier resets.
    text = POLICY.text.replace("match: {kind: service}", "match: {}").replace(
        "action: rotate\n    rotation: {length: 40, grace_period: 24h, max_age: 90d}",
        "action: temp_password",
    )
    assert select(subject(), policy=parse_policy(text, "p")).tier == "service"


def test_no_matching_tier_raises_recovery_blocked() -> None:
    text = POLICY.text.replace("    match: {}\n", "    match: {groups: [nobody]}\n")
    with pytest.raises(RecoveryBlocked, match="no policy tier matches subject 'u1'"):
        select(subject(employment=Employment.NONE), policy=parse_policy(text, "p"))


def test_group_match_selects_tier_for_member() -> None:
    text = POLICY.text.replace(
        "match: {privileged: true}", "match: {groups: [domain-admins, tier0]}"
    )
    req = select(subject(groups=frozenset({"tier0"})), policy=parse_policy(text, "p"))
    assert req.tier == "privileged"


def test_required_targets_all_becomes_none() -> None:
    assert select(subject()).required_targets is None


def test_undeclared_risk_band_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        select(subject(), RiskAssessment(score=99, band="extreme", reasons=()))
