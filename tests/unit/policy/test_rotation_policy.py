"""The ``rotate`` action and its ``rotation`` section (R-40): a rotate tier
states its rotation and matches service accounts only; a secret under 112
bits, an unbounded max_age, a grace period as long as the max_age, or a
repeated alphabet character are refused; ``policy check`` says it in words;
the default policy rotates service accounts; generated secrets follow the
policy's length and alphabet."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.credentials.service_secrets import generate
from custos.domain.model import CredentialAction
from custos.policy.actions import explain
from custos.policy.loader import DEFAULT_POLICY_PATH, PolicyError, parse_policy

HEAD = "version: 1\nrisk_bands: {all: [0, 100]}\ntiers:\n"
ROTATE = """\
  - name: service
    match: {kind: service}
    channels: [owner_request]
    proofing: {factors: 1, methods: [totp, email_code]}
    approvals: {count: 1}
    action: rotate
    rotation:
      length: 32
      alphabet: "abcdefghijklmnopqrstuvwxyz0123456789"
      grace_period: 2h
      max_age: 30d
    token_ttl: 15m
"""


def _rotation_key(line: str) -> bool:
    return line.startswith(("    rotation:", "      "))


def _reasons(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    return [p.reason for p in caught.value.problems]


def test_a_rotate_tier_reads_its_rotation() -> None:
    tier = parse_policy(HEAD + ROTATE, "p").document.tier("service")
    assert tier.action == CredentialAction.ROTATE and tier.rotation is not None
    assert (tier.rotation.length, tier.rotation.grace_period, tier.rotation.max_age) == (
        32,
        timedelta(hours=2),
        timedelta(days=30),
    )
    words = explain(tier.action, None, tier.rotation)
    assert "32 characters of 36" in words and "grace period 2h" in words and "30d" in words


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (HEAD + ROTATE.replace("    rotation:\n", "    x_rotation:\n"), "unknown key 'x_rotation'"),
        (
            HEAD + "\n".join(line for line in ROTATE.splitlines() if not _rotation_key(line)),
            "needs 'rotation'",
        ),
        (HEAD + ROTATE.replace("kind: service", "kind: human"), "service accounts only"),
        (HEAD + ROTATE.replace("length: 32", "length: 16"), "at least 112 are needed"),
        (HEAD + ROTATE.replace("max_age: 30d", "max_age: 500d"), "at most 400d"),
        (HEAD + ROTATE.replace("grace_period: 2h", "grace_period: 8d"), "at most 7d"),
        (HEAD + ROTATE.replace("abcdef", "abcdea"), "lists a character twice"),
        (
            HEAD + ROTATE.replace("action: rotate", "action: reset_token"),
            "'rotation' only goes with action rotate",
        ),
    ],
)
def test_rotation_settings_that_break_r40_are_refused(text: str, reason: str) -> None:
    """R-40: no credential without a bounded age; strong generated values."""
    assert any(reason in r for r in _reasons(text)), _reasons(text)


def test_the_default_policy_rotates_service_accounts() -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    tier = parse_policy(text, "default").document.tier("service")
    assert tier.action == CredentialAction.ROTATE
    assert tier.rotation is not None and tier.rotation.max_age == timedelta(days=90)


def test_generated_secrets_use_the_policy_length_and_alphabet() -> None:
    values = {generate(40, "ab") for _ in range(20)}
    assert all(len(v) == 40 and set(v) <= {"a", "b"} for v in values)
    assert len(values) == 20  # drawn afresh each time
    with pytest.raises(ValueError):
        generate(0, "ab")
