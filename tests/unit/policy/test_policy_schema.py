"""Schema rules of the policy file: durations, bands, tiers, step-up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.policy.loader import PolicyError, parse_policy
from custos.policy.schema import format_duration, parse_duration

HEAD = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
"""
TIER = """\
  - name: t
    match: {kind: human}
    channels: [helpdesk]
    risk_analysis: RA-1 help-desk recovery
    proofing: {factors: 1, methods: [totp, email_code]}
    action: reset_token
    token_ttl: 15m
"""


def reasons(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    return [p.reason for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
    ],
)
def test_parse_duration_accepts_unit_suffixes(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("value", ["0m", "-5m", "10", "10 m", "10x", "", "h", 10, 1.5, None])
def test_parse_duration_rejects_zero_negative_and_garbage(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_format_duration_round_trips() -> None:
    assert format_duration(parse_duration("1d2h3m4s")) == "1d2h3m4s"


def test_risk_bands_with_gap_are_rejected() -> None:
    text = (HEAD + TIER).replace("medium: [40, 69]", "medium: [41, 69]")
    assert any("leaves a gap" in r for r in reasons(text))


def test_risk_bands_with_overlap_are_rejected() -> None:
    text = (HEAD + TIER).replace("high: [70, 100]", "high: [60, 100]")
    assert any("overlaps" in r for r in reasons(text))


def test_risk_bands_short_of_100_are_rejected() -> None:
    text = (HEAD + TIER).replace("high: [70, 100]", "high: [70, 99]")
    assert any("must reach 100" in r for r in reasons(text))


def test_non_block_tier_without_token_ttl_is_rejected() -> None:
    text = HEAD + TIER.replace("    token_ttl: 15m\n", "")
    assert reasons(text) == ["tiers[0]: tier 't' (reset_token) needs 'token_ttl'"]


def test_block_tier_needs_no_channels_or_proofing() -> None:
    policy = parse_policy(
        HEAD + "  - {name: frozen, match: {holds: legal_hold}, action: block}\n", "p"
    )
    assert policy.document.tiers[0].proofing is None


def test_block_tier_with_proofing_is_rejected() -> None:
    text = HEAD + TIER.replace("reset_token", "block").replace(
        "    channels: [helpdesk]\n", ""
    ).replace("    token_ttl: 15m\n", "")
    assert reasons(text) == ["tiers[0].proofing: a block tier refuses recovery; remove 'proofing'"]


def test_factors_above_method_count_are_rejected() -> None:
    text = HEAD + TIER.replace("factors: 1", "factors: 3")
    assert reasons(text) == ["tiers[0].proofing.factors: 3 factors cannot be met with 2 method(s)"]


def test_zero_factors_are_rejected() -> None:
    text = HEAD + TIER.replace("factors: 1", "factors: 0")
    assert len(reasons(text)) == 1


def test_negative_approval_count_is_rejected() -> None:
    text = HEAD + TIER + "    approvals: {count: -1}\n"
    assert reasons(text)[0].startswith("tiers[0].approvals.count")


def test_token_ttl_above_a_day_is_rejected() -> None:
    """R-17: reset tokens are short-lived."""
    text = HEAD + TIER.replace("15m", "25h")
    assert reasons(text) == ["tiers[0].token_ttl: token_ttl may be at most 1d"]


def test_step_up_for_undeclared_band_is_rejected() -> None:
    text = HEAD + TIER + "    step_up: {extreme: {factors: 2}}\n"
    assert reasons(text) == [
        "tiers[0].step_up.extreme: step_up names band 'extreme', which risk_bands does not declare"
    ]


def test_step_up_factors_above_method_count_are_rejected() -> None:
    text = HEAD + TIER + "    step_up: {high: {factors: 3}}\n"
    assert reasons(text) == [
        "tiers[0].step_up.high.factors: 3 factors cannot be met with 2 method(s)"
    ]


def test_refusing_step_up_cannot_raise_numbers() -> None:
    text = HEAD + TIER + "    step_up: {high: {refuse: true, factors: 2}}\n"
    assert reasons(text) == [
        "tiers[0].step_up.high.factors: a refusing step-up cannot also raise requirements"
    ]


def test_phishing_resistant_without_such_method_is_rejected() -> None:
    """R-45: a phishing-resistant requirement must be satisfiable by a listed method."""
    text = HEAD + TIER.replace("email_code]}", "email_code], phishing_resistant: true}")
    assert "phishing_resistant needs a phishing-resistant method" in reasons(text)[0]


def test_unknown_channel_is_rejected() -> None:
    text = HEAD + TIER.replace("[helpdesk]", "[carrier_pigeon]")
    assert reasons(text)[0].startswith("tiers[0].channels[0]")


def test_unknown_post_check_is_rejected() -> None:
    text = HEAD + TIER + "    post_checks: [read_back, vibes]\n"
    assert "unknown post check 'vibes'" in reasons(text)[0]


def test_privileged_tier_with_one_approval_is_rejected() -> None:
    """R-32: a tier for privileged subjects needs dual approval."""
    text = (
        HEAD
        + TIER.replace("{kind: human}", "{privileged: true}")
        + ("    approvals: {count: 1}\n    post_checks: [sessions_revoked]\n")
    )
    assert reasons(text) == [
        "tiers[0].approvals: a tier for privileged subjects needs count >= 2 (R-32)"
    ]


def test_privileged_tier_without_session_revocation_is_rejected() -> None:
    """R-24: privileged tiers always end every other session."""
    text = (
        HEAD + TIER.replace("{kind: human}", "{privileged: true}") + ("    approvals: {count: 2}\n")
    )
    assert reasons(text) == [
        "tiers[0].post_checks: a tier for privileged subjects must list sessions_revoked (R-24)"
    ]


def test_match_accepts_single_value_for_list_key() -> None:
    policy = parse_policy(HEAD + TIER, "p")
    assert policy.document.tiers[0].match.kind == ("human",)


def test_empty_match_list_is_rejected() -> None:
    text = HEAD + TIER.replace("{kind: human}", "{groups: []}")
    assert reasons(text) == ["tiers[0].match.groups: must list at least one value"]


def test_required_targets_accepts_list_of_names() -> None:
    policy = parse_policy(HEAD + TIER + "    required_targets: [ad, ldap]\n", "p")
    assert policy.document.tiers[0].required_targets == ("ad", "ldap")


def test_string_number_for_factors_is_rejected() -> None:
    text = HEAD + TIER.replace("factors: 1", "factors: '1'")
    assert len(reasons(text)) == 1


def test_document_tier_finds_a_tier_by_name() -> None:
    from custos.policy.loader import DEFAULT_POLICY_PATH, load_policy

    document = load_policy(DEFAULT_POLICY_PATH).document
    assert document.tier("contractor").name == "contractor"
    assert document.tier("frozen").name == "frozen"
    with pytest.raises(KeyError):
        document.tier("nobody")


def test_format_duration_of_nothing_is_zero_seconds() -> None:
    assert format_duration(timedelta(0)) == "0s"
    assert format_duration(timedelta(days=1, seconds=1)) == "1d1s"


@pytest.mark.parametrize(
    "value",
    ["[]", "[ad, ad]", "['', ad]", "[ad, 3]", "some", "ALL", "{ad: 1}"],
)
def test_required_targets_refuses_anything_but_all_or_distinct_names(value: str) -> None:
    """A tier names the targets a recovery must reach, each once, or 'all'."""
    text = HEAD + TIER + f"    required_targets: {value}\n"
    assert reasons(text) == [
        "tiers[0].required_targets: required_targets is 'all' or a list of distinct target names"
    ]


def test_required_targets_all_is_kept_as_all() -> None:
    policy = parse_policy(HEAD + TIER + "    required_targets: all\n", "p")
    assert policy.document.tiers[0].required_targets == "all"


def test_rule_error_says_every_violation() -> None:
    from custos.policy.schema import PolicyRuleError, RuleViolation

    error = PolicyRuleError([RuleViolation(("a",), "first"), RuleViolation(("b",), "second")])
    assert str(error) == "first; second"
    assert [v.reason for v in error.violations] == ["first", "second"]


def test_unknown_method_and_check_are_refused_with_the_known_ones() -> None:
    text = HEAD + TIER.replace("[totp, email_code]", "[totp, sms]")
    assert reasons(text) == [
        "tiers[0].proofing.methods[1]: unknown proofing method 'sms'; known: agent_challenge, "
        "email_code, manager_attestation, recovery_code, reproofing, sms_code, totp, webauthn"
    ]
    text = HEAD + TIER + "    post_checks: [read_back, pinged]\n"
    assert reasons(text) == [
        "tiers[0].post_checks[1]: unknown post check 'pinged'; known: factors_removed, "
        "mfa_bound, read_back, sessions_revoked"
    ]


def test_duration_given_as_timedelta_passes_through() -> None:
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)


def test_unknown_tier_name_is_the_key_error() -> None:
    from custos.policy.loader import DEFAULT_POLICY_PATH, load_policy

    with pytest.raises(KeyError) as caught:
        load_policy(DEFAULT_POLICY_PATH).document.tier("nobody")
    assert caught.value.args == ("nobody",)


def test_recovery_tier_without_proofing_is_reported_not_crashed() -> None:
    text = HEAD + TIER.replace("    proofing: {factors: 1, methods: [totp, email_code]}\n", "")
    assert reasons(text) == ["tiers[0]: tier 't' (reset_token) needs 'proofing'"]
