"""The cross-field rules of the policy schema, as ``custos policy check`` prints
them: each rule's line and whole reason, and the boundary on either side
(R-32: privileged tiers and campaigns need two approvers; R-24: privileged
tiers end every session; R-40: rotation bounds; R-13/R-17: token lifetime at
most a day). Bands, proofing, step-up, completeness of a tier, oversight hours,
document consistency."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from custos.policy import schema
from custos.policy.loader import PolicyError, parse_policy

HEAD = "version: 1\nrisk_bands: {low: [0, 49], high: [50, 100]}\n"
TIER = """\
tiers:
  - name: t
    match: {kind: human}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    action: reset_token
    token_ttl: 15m
"""
PRIVILEGED = HEAD + TIER.replace("kind: human", "privileged: true")
BANDS = "version: 1\nrisk_bands: BANDS\n" + TIER
ROTATE = """\
version: 1
risk_bands: {all: [0, 100]}
tiers:
  - name: service
    match: {kind: service}
    channels: [owner_request]
    proofing: {factors: 1, methods: [totp, email_code]}
    action: rotate
    rotation: ROTATION
    token_ttl: 15m
"""


def _proofing(extra: str) -> str:
    return HEAD + TIER.replace(
        "methods: [totp, email_code]}", f"methods: [totp, email_code]{extra}}}"
    )


def _problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, "p.yaml")
    return [(p.line, p.reason) for p in refused.value.problems]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        # proofing
        (_proofing(", required: [email_code, webauthn]"), [
            (8, "tiers[0].proofing.required: 2 required methods exceed factors (1)"),
            (8, "tiers[0].proofing.required[1]: required method 'webauthn' is not listed in "
                "methods"),
        ]),
        (_proofing(", phishing_resistant: true"), [
            (8, "tiers[0].proofing.phishing_resistant: phishing_resistant needs a "
                "phishing-resistant method among 'methods' (known: webauthn)"),
        ]),
        (HEAD + TIER.replace("factors: 1", "factors: 3"), [
            (8, "tiers[0].proofing.factors: 3 factors cannot be met with 2 method(s)"),
        ]),
        # step-up
        (HEAD + TIER + "    step_up: {high: {refuse: true, approvals: 2, "
         "phishing_resistant: true}}\n", [
            (11, "tiers[0].step_up.high.approvals: a refusing step-up cannot also raise "
                 "requirements"),
        ]),
        (HEAD + TIER + "    step_up: {high: {refuse: true, factors: 2}}\n", [
            (11, "tiers[0].step_up.high.factors: a refusing step-up cannot also raise "
                 "requirements"),
        ]),
        (HEAD + TIER + "    step_up: {high: {reason: nope}}\n", [
            (11, "tiers[0].step_up.high.reason: 'reason' only goes with refuse"),
        ]),
        (HEAD + TIER + "    step_up: {high: {phishing_resistant: true}}\n", [
            (11, "tiers[0].step_up.high.phishing_resistant: a phishing-resistant step-up needs "
                 "a phishing-resistant method among the tier's methods"),
        ]),
        (HEAD + TIER + "    step_up: {high: {factors: 3}}\n", [
            (11, "tiers[0].step_up.high.factors: 3 factors cannot be met with 2 method(s)"),
        ]),
        # campaigns and token lifetime
        (HEAD + "campaigns: {approvals: {count: 1}}\n" + TIER, [
            (3, "campaigns: a campaign needs approvals.count >= 2 (R-32)"),
        ]),
        (HEAD + TIER.replace("15m", "1d1s"), [
            (10, "tiers[0].token_ttl: token_ttl may be at most 1d"),
        ]),
        # completeness of a tier
        (HEAD + "tiers:\n  - name: b\n    action: block\n    channels: [helpdesk]\n"
         "    proofing: {factors: 1, methods: [totp]}\n    token_ttl: 5m\n"
         "    step_up: {high: {refuse: true}}\n", [
            (6, "tiers[0].channels: a block tier refuses recovery; remove 'channels'"),
            (7, "tiers[0].proofing: a block tier refuses recovery; remove 'proofing'"),
            (8, "tiers[0].token_ttl: a block tier refuses recovery; remove 'token_ttl'"),
            (9, "tiers[0].step_up: a block tier refuses recovery; remove 'step_up'"),
        ]),
        (HEAD + "tiers:\n  - name: b\n    action: refuse\n    instructions: x\n"
         "    step_up: {high: {factors: 1}}\n", [
            (7, "tiers[0].step_up: a refuse tier refuses recovery; remove 'step_up'"),
        ]),
        (HEAD + "tiers:\n  - name: b\n    action: temp_password\n", [
            (4, "tiers[0]: tier 'b' (temp_password) needs 'channels'"),
            (4, "tiers[0]: tier 'b' (temp_password) needs 'proofing'"),
            (4, "tiers[0]: tier 'b' (temp_password) needs 'token_ttl'"),
        ]),
        (HEAD + TIER + "    post_checks: [read_back]\n"
         "    optional_checks: [read_back, sessions_revoked]\n", [
            (12, "tiers[0].optional_checks[1]: optional check 'sessions_revoked' is not listed "
                 "in post_checks"),
        ]),
        # privileged tiers
        (PRIVILEGED + "    approvals: {count: 1}\n    post_checks: [sessions_revoked]\n"
         "    optional_checks: [sessions_revoked]\n", [
            (11, "tiers[0].approvals: a tier for privileged subjects needs count >= 2 (R-32)"),
            (13, "tiers[0].optional_checks: a tier for privileged subjects must end every "
                 "session: sessions_revoked cannot be optional (R-24)"),
        ]),
        (PRIVILEGED + "    approvals: {count: 2}\n", [
            (4, "tiers[0].post_checks: a tier for privileged subjects must list "
                "sessions_revoked (R-24)"),
        ]),
        # oversight
        (HEAD + TIER + "oversight: {anomalies: {work_starts: 9, work_ends: 9}}\n", [
            (11, "oversight.anomalies: work_starts must be before work_ends"),
        ]),
        (HEAD + TIER + "oversight: {anomalies: {recent: 2d, lookback: 2d}}\n", [
            (11, "oversight.anomalies: recent must be shorter than lookback"),
        ]),
        # risk bands
        (BANDS.replace("BANDS", "{low: [0, 49], high: [60, 50], x: [-1, 101]}"), [
            (2, "risk_bands.high: band 'high' must satisfy 0 <= low <= high <= 100, got "
                "[60, 50]"),
            (2, "risk_bands.x: band 'x' must satisfy 0 <= low <= high <= 100, got [-1, 101]"),
        ]),
        (BANDS.replace("BANDS", "{a: [0, 10], b: [12, 50], c: [40, 99]}"), [
            (2, "risk_bands.b: band 'b' starts at 12: leaves a gap (expected 11)"),
            (2, "risk_bands.c: band 'c' starts at 40: overlaps the previous band (expected 51)"),
            (2, "risk_bands: risk bands must reach 100"),
        ]),
        (BANDS.replace("BANDS", "{all: [1, 100]}"), [
            (2, "risk_bands.all: band 'all' starts at 1: leaves a gap (expected 0)"),
        ]),
        # the document as a whole
        (HEAD + "holds: {kinds: [audit]}\ntiers:\n"
         "  - {name: b, match: {holds: [audit, nope]}, action: block}\n"
         "  - {name: b, action: block}\n"
         "  - name: c\n    channels: [helpdesk]\n    risk_analysis: RA\n"
         "    proofing: {factors: 1, methods: [totp]}\n    action: reset_token\n"
         "    token_ttl: 5m\n    step_up: {mid: {factors: 1}}\n", [
            (5, "tiers[0].match.holds[1]: unknown hold kind 'nope'; known: audit, fraud, "
                "incident_freeze, legal_hold (a policy adds kinds under holds.kinds)"),
            (6, "tiers[1].name: tier name 'b' is used twice"),
            (13, "tiers[2].step_up.mid: step_up names band 'mid', which risk_bands does not "
                 "declare"),
        ]),
    ],
)  # fmt: skip
def test_each_rule_is_reported_at_its_line_with_its_reason(
    text: str, problems: list[tuple[int, str]]
) -> None:
    assert _problems(text) == problems


@pytest.mark.parametrize(
    "text",
    [
        _proofing(", required: [totp]"),
        _proofing(", required: [totp, email_code]").replace("factors: 1,", "factors: 2,"),
        HEAD + TIER.replace("[totp, email_code]", "[totp, webauthn]").replace(
            "]}", "], phishing_resistant: true}", 1),
        HEAD + TIER + "    step_up: {high: {refuse: true, reason: nope}}\n",
        HEAD + TIER + "    step_up: {high: {factors: 2, approvals: 1}}\n",
        HEAD + "campaigns: {approvals: {count: 2}}\n" + TIER,
        HEAD + TIER.replace("15m", "24h"),
        HEAD + "tiers:\n  - name: b\n    action: refuse\n    instructions: x\n",
        HEAD + TIER + "    post_checks: [read_back]\n    optional_checks: [read_back]\n",
        PRIVILEGED + "    approvals: {count: 2}\n    post_checks: [sessions_revoked]\n",
        HEAD + TIER.replace("kind: human", "privileged: false"),
        HEAD + "tiers:\n  - {name: b, match: {privileged: true}, action: block}\n",
        HEAD + TIER + "oversight: {anomalies: {work_starts: 8, work_ends: 9}}\n",
        HEAD + TIER + "oversight: {anomalies: {recent: 2d, lookback: 2d1s}}\n",
        BANDS.replace("BANDS", "{all: [0, 100]}"),
        BANDS.replace("BANDS", "{a: [0, 0], b: [1, 99], c: [100, 100]}"),
        HEAD + "holds: {kinds: [audit]}\ntiers:\n"
        "  - {name: b, match: {holds: [audit]}, action: block}\n",
    ],
)  # fmt: skip
def test_the_boundary_on_the_right_side_of_each_rule_passes(text: str) -> None:
    assert parse_policy(text, "p.yaml").document.tiers


@pytest.mark.parametrize(
    ("rotation", "reason"),
    [
        ('{length: 27, alphabet: "0123456789abcdef"}',
         "rotation: 27 characters of 16 give 108 bits; at least 112 are needed"),
        ('{length: 16, alphabet: "aaaaaaaaaa"}',
         "rotation.alphabet lists a character twice; rotation: 16 characters of 1 give 16 "
         "bits; at least 112 are needed"),
        ('{alphabet: "abcdefghij klmnop"}',
         "rotation.alphabet may hold printable characters only, no spaces"),
        ('{alphabet: "abcdefghij\\x01klmnop"}',
         "rotation.alphabet may hold printable characters only, no spaces"),
        ("{max_age: 401d}", "rotation.max_age may be at most 400d (R-40)"),
        ("{grace_period: 7d1s}", "rotation.grace_period may be at most 7d"),
        ("{grace_period: 5d, max_age: 5d}",
         "rotation.grace_period must be shorter than rotation.max_age"),
        ('{length: 16, alphabet: "0123456789", max_age: 500d, grace_period: 8d}',
         "rotation: 16 characters of 10 give 53 bits; at least 112 are needed; "
         "rotation.max_age may be at most 400d (R-40); rotation.grace_period may be at most 7d"),
    ],
)  # fmt: skip
def test_rotation_rules_at_the_rotation_line(rotation: str, reason: str) -> None:
    """R-40: a generated secret of at least 112 bits, a bounded max_age, a grace
    period under a week and shorter than the max_age."""
    assert _problems(ROTATE.replace("ROTATION", rotation)) == [(9, f"tiers[0].rotation: {reason}")]


@pytest.mark.parametrize(
    "rotation",
    [
        '{length: 28, alphabet: "0123456789abcdef"}',
        "{max_age: 400d}",
        "{grace_period: 7d}",
        "{grace_period: 5d, max_age: 5d1s}",
    ],
)
def test_rotation_boundaries_that_pass(rotation: str) -> None:
    """R-40: exactly 112 bits, a max_age of 400 days, a grace period of 7 days."""
    tier = parse_policy(ROTATE.replace("ROTATION", rotation), "p.yaml").document.tiers[0]
    assert tier.rotation is not None


@pytest.mark.parametrize(
    ("registered", "known"),
    [
        (frozenset({"webauthn", "passkey"}), "passkey, webauthn"),
        (frozenset(), "none yet"),
    ],
)
def test_phishing_resistance_names_the_registered_methods(
    monkeypatch: pytest.MonkeyPatch, registered: frozenset[str], known: str
) -> None:
    """The reason lists every phishing-resistant method registered in
    proofing.base.METHODS, sorted, or says there is none yet."""
    monkeypatch.setattr(schema, "PHISHING_RESISTANT_METHODS", registered)
    with pytest.raises(ValidationError) as refused:
        schema.Proofing.model_validate(
            {"factors": 1, "methods": ["totp"], "phishing_resistant": True}
        )
    (error,) = refused.value.errors()
    assert error["ctx"]["error"].violations == (
        schema.RuleViolation(
            ("phishing_resistant",),
            "phishing_resistant needs a phishing-resistant method among 'methods' "
            f"(known: {known})",
        ),
    )
