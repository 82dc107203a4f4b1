"""A campaign case's frozen requirements (custos.policy.campaign_tier,
docs/campaigns.md), field by field for every campaign action: the section's
tier and approvals (R-32: two approvers at least), no proofing, the action's
post-checks and which may be "not applicable", never sessions_revoked for a
privileged subject (R-24), the policy's defaults, hash, version and lowest band."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.domain.model import Channel, CredentialAction, RiskAssessment, Subject
from custos.policy.campaign_tier import CASE_TTL, campaign_requirements, campaign_risk
from custos.policy.loader import parse_policy

TEXT = """\
version: 7
risk_bands: {quiet: [0, 0], loud: [1, 100]}
defaults: {approval_expiry: 3h, max_proofing_failures: 9}
campaigns: {tier: incident, approvals: {count: 3, from_groups: [soc, ciso]BATCH}}
tiers:
  - name: standard
    match: {}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp]}
    action: reset_token
    token_ttl: 15m
"""
POLICY = parse_policy(TEXT.replace("BATCH", ""), "campaign.yaml")
PLAIN = Subject(id="p", display_name="P")
BOSS = Subject(id="b", display_name="B", privileged=True)


@pytest.mark.parametrize(
    ("action", "subject", "post_checks", "optional"),
    [
        (CredentialAction.FORCE_RESET, PLAIN, ("read_back", "sessions_revoked"),
         {"sessions_revoked"}),
        (CredentialAction.FORCE_RESET, BOSS, ("read_back", "sessions_revoked"), set()),
        (CredentialAction.REVOKE_SESSIONS, PLAIN, ("sessions_revoked",), {"sessions_revoked"}),
        (CredentialAction.REVOKE_SESSIONS, BOSS, ("sessions_revoked",), set()),
        (CredentialAction.REISSUE, PLAIN, ("read_back", "sessions_revoked", "factors_removed"),
         {"sessions_revoked", "factors_removed"}),
        (CredentialAction.REISSUE, BOSS, ("read_back", "sessions_revoked", "factors_removed"),
         {"factors_removed"}),
    ],
)  # fmt: skip
def test_campaign_requirements_field_by_field(
    action: CredentialAction, subject: Subject, post_checks: tuple[str, ...], optional: set[str]
) -> None:
    """R-32 (the section's quorum, from its groups) and R-24 (a privileged
    subject's sessions_revoked is never optional)."""
    req = campaign_requirements(POLICY, action, subject)
    assert req.tier == "incident"
    assert req.action == action
    assert req.channels == frozenset({Channel.CAMPAIGN})
    assert (req.factors, req.methods, req.phishing_resistant) == (0, frozenset(), False)
    assert req.approvals == 3
    assert req.approver_groups == frozenset({"soc", "ciso"})
    assert req.approval_expiry == timedelta(hours=3)
    assert req.token_ttl == timedelta(0)
    assert req.post_checks == post_checks
    assert req.optional_checks == frozenset(optional)
    assert req.required_targets is None
    assert req.case_ttl == CASE_TTL == timedelta(days=7)
    assert req.max_proofing_failures == 9
    assert (req.policy_hash, req.policy_version) == (POLICY.hash, 7)
    assert req.risk_band == "quiet"
    assert (req.refused, req.refusal_reason, req.required_methods) == (False, "", frozenset())


def test_the_sections_own_approval_expiry_wins_over_the_default() -> None:
    text = TEXT.replace("BATCH", ", expire_after: 30m")
    req = campaign_requirements(
        parse_policy(text, "c.yaml"), CredentialAction.REVOKE_SESSIONS, PLAIN
    )
    assert req.approval_expiry == timedelta(minutes=30)


@pytest.mark.parametrize(
    "action", [CredentialAction.RESET_TOKEN, CredentialAction.ROTATE, CredentialAction.BLOCK]
)
def test_an_action_that_is_not_a_campaigns_raises(action: CredentialAction) -> None:
    with pytest.raises(KeyError):
        campaign_requirements(POLICY, action, PLAIN)


def test_a_campaign_case_is_scored_at_the_lowest_band_and_says_why() -> None:
    assert campaign_risk(POLICY) == RiskAssessment(
        score=0, band="quiet", reasons=("incident campaign",)
    )
