"""What each tier action demands of the other keys (docs/policy.md#actions), as
``custos policy check`` prints it: the line and the whole reason, with the key
it is about, for every rule of ``Tier._action_rules`` and ``_rotation_rules``
(R-40 for rotate tiers; a reissue never checks mfa_bound; campaign-only actions
never in a tier)."""

from __future__ import annotations

import pytest

from custos.policy.loader import PolicyError, parse_policy

HEAD = "version: 1\nrisk_bands: {all: [0, 100]}\ntiers:\n"
TIER = """\
  - name: t
    match: {kind: human}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    action: ACTION
    token_ttl: 15m
"""
ROTATION = "rotate\n    rotation: {length: 40}"


def _tier(action: str, kind: str = "human") -> str:
    return TIER.replace("ACTION", action).replace("kind: human", f"kind: {kind}")


@pytest.mark.parametrize(
    ("tier", "line", "reason"),
    [
        ("  - name: r\n    action: refuse\n", 4,
         "tiers[0]: tier 'r' (refuse) needs 'instructions': whom the caller should contact "
         "instead"),
        (_tier("reset_token\n    instructions: Call us."), 10,
         "tiers[0].instructions: 'instructions' only goes with action refuse"),
        (_tier("reissue\n    post_checks: [read_back, mfa_bound]"), 10,
         "tiers[0].post_checks: a reissue removes every authenticator, so mfa_bound could "
         "never pass; the subject enrols again at the next sign-in"),
        (_tier("force_reset"), 9,
         "tiers[0].action: 'force_reset' is an incident campaign's action, never a tier's "
         "(docs/campaigns.md)"),
        (_tier("revoke_sessions"), 9,
         "tiers[0].action: 'revoke_sessions' is an incident campaign's action, never a "
         "tier's (docs/campaigns.md)"),
        (_tier("temp_password\n    post_checks: [factors_removed]"), 10,
         "tiers[0].post_checks: factors_removed only goes with action reissue"),
        (_tier("reset_token\n    temporary_access_pass: {lifetime_minutes: 30}"), 10,
         "tiers[0].temporary_access_pass: temporary_access_pass only goes with action "
         "reissue: a Temporary Access Pass lets the subject register new factors after a "
         "reissue removed them"),
        (_tier("reproof"), 8,
         "tiers[0].proofing.methods: a reproof tier re-proofs first: list 'reproofing' "
         "among the methods"),
        (_tier("rotate", kind="service"), 4,
         "tiers[0]: tier 't' (rotate) needs 'rotation': length, alphabet, grace_period "
         "and max_age (R-40)"),
        (_tier("reset_token\n    rotation: {length: 40}"), 10,
         "tiers[0].rotation: 'rotation' only goes with action rotate"),
        (_tier(ROTATION), 5,
         "tiers[0].match.kind: a rotate tier matches service accounts only: kind: service"),
        (_tier(ROTATION, kind="[service, human]"), 5,
         "tiers[0].match.kind: a rotate tier matches service accounts only: kind: service"),
    ],
)  # fmt: skip
def test_each_action_rule_is_reported_at_its_key(tier: str, line: int, reason: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(HEAD + tier, "p.yaml")
    assert [(p.line, p.reason) for p in refused.value.problems] == [(line, reason)]


@pytest.mark.parametrize(
    "tier",
    [
        _tier(ROTATION, kind="service"),
        _tier("reissue\n    temporary_access_pass: {lifetime_minutes: 30}"),
        _tier("reissue\n    post_checks: [factors_removed]"),
        "  - name: r\n    action: refuse\n    instructions: Call us.\n",
        _tier("reproof").replace("[totp, email_code]", "[totp, reproofing]"),
    ],
)
def test_the_same_keys_with_their_own_action_pass(tier: str) -> None:
    assert parse_policy(HEAD + tier, "p.yaml").document.tiers[0].name in {"t", "r"}
