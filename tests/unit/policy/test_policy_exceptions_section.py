"""The policy's ``exceptions`` section: the cap on an exception's duration
(default 72 h) and the groups of break-glass security approvers."""

from __future__ import annotations

from datetime import timedelta

from custos.policy.loader import parse_policy

HEAD = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - {name: f, action: block}
"""


def test_without_an_exceptions_section_the_cap_is_72_hours() -> None:
    section = parse_policy(HEAD, "p").document.exceptions
    assert section.max_duration == timedelta(hours=72)
    assert section.security_groups == ("security-approvers",)


def test_a_policy_sets_its_cap_and_security_groups() -> None:
    text = HEAD + "exceptions: {max_duration: 8h, security_groups: [soc]}\n"
    section = parse_policy(text, "p").document.exceptions
    assert section.max_duration == timedelta(hours=8)
    assert section.security_groups == ("soc",)
