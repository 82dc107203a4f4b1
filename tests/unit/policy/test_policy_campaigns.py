"""The policy's ``campaigns`` section (docs/policy.md#campaigns): two approvers
at least (R-32), the campaign-only actions refused in tiers, and the
requirements a campaign case gets (no proofing, the section's approvals, the
action's checks; sessions_revoked never optional for privileged, R-24)."""

from __future__ import annotations

import pytest

from custos.domain.model import Channel, CredentialAction, Subject
from custos.policy.campaign_tier import campaign_requirements
from custos.policy.loader import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy

HEAD = "version: 1\nrisk_bands: {all: [0, 100]}\n"
TIER = """\
tiers:
  - name: standard
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp]}
    action: ACTION
    token_ttl: 15m
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    return [str(p) for p in info.value.problems]


def test_campaign_section_with_one_approver_is_refused() -> None:
    """R-32: a campaign needs two distinct approvers at least."""
    text = HEAD + "campaigns: {approvals: {count: 1}}\n" + TIER.replace("ACTION", "reset_token")
    assert any("approvals.count >= 2" in p for p in problems(text))


@pytest.mark.parametrize("action", ["force_reset", "revoke_sessions"])
def test_campaign_only_action_in_a_tier_is_refused(action: str) -> None:
    assert any("never a tier's" in p for p in problems(HEAD + TIER.replace("ACTION", action)))


def test_campaign_requirements_skip_proofing_and_carry_the_section() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    req = campaign_requirements(
        policy, CredentialAction.FORCE_RESET, Subject(id="s", display_name="S")
    )
    assert (req.tier, req.factors, req.approvals) == ("campaign", 0, 2)
    assert req.approver_groups == {"security-approvers"}
    assert req.channels == {Channel.CAMPAIGN}
    assert req.post_checks == ("read_back", "sessions_revoked")
    assert req.optional_checks == {"sessions_revoked"}
    assert policy.document.campaigns.batch == 100


def test_campaign_requirements_never_make_sessions_optional_for_privileged() -> None:
    """R-24: a privileged member's sessions must end."""
    policy = load_policy(DEFAULT_POLICY_PATH)
    boss = Subject(id="b", display_name="B", privileged=True)
    for action in (CredentialAction.REVOKE_SESSIONS, CredentialAction.REISSUE):
        req = campaign_requirements(policy, action, boss)
        assert "sessions_revoked" in req.post_checks
        assert "sessions_revoked" not in req.optional_checks
