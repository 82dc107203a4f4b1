"""The policy's ``holds`` section (docs/policy.md#holds): kinds a policy adds,
who sets a hold and who lifts it, and tiers matching on hold kinds."""

from __future__ import annotations

import pytest

from custos.domain.holds import BUILT_IN_KINDS
from custos.domain.model import Role
from custos.policy.loader import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy

HEAD = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
"""
FROZEN = """\
tiers:
  - {name: frozen, match: {holds: [legal_hold, export_review]}, action: block}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "p.yaml")
    return [str(p) for p in info.value.problems]


def test_without_a_holds_section_a_security_approver_lifts_and_an_approver_sets() -> None:
    rules = parse_policy(HEAD + "tiers:\n  - {name: f, action: block}\n", "p").document.holds
    got = rules.rules()
    assert got.kinds == BUILT_IN_KINDS
    assert (got.set_role, got.set_groups) == (Role.APPROVER, frozenset())
    assert (got.lift_role, got.lift_groups) == (Role.APPROVER, frozenset({"security-approvers"}))


def test_the_default_policy_names_its_lifters_and_blocks_every_built_in_kind() -> None:
    document = load_policy(DEFAULT_POLICY_PATH).document
    assert document.holds.rules().lift_groups == {"security-approvers"}
    frozen = document.tier("frozen")
    assert set(frozen.match.holds or ()) == BUILT_IN_KINDS


def test_a_policy_adds_hold_kinds_and_names_the_lifting_role() -> None:
    text = (
        HEAD
        + """\
holds:
  kinds: [export_review]
  set_by: {role: requester, from_groups: [desk, hr]}
  lifted_by: {role: auditor, from_groups: [legal]}
"""
        + FROZEN
    )
    rules = parse_policy(text, "p").document.holds.rules()
    assert rules.kinds == BUILT_IN_KINDS | {"export_review"}
    assert (rules.set_role, rules.set_groups) == (Role.REQUESTER, frozenset({"desk", "hr"}))
    assert (rules.lift_role, rules.lift_groups) == (Role.AUDITOR, frozenset({"legal"}))


def test_a_tier_matching_a_kind_nobody_declared_is_refused_at_its_line() -> None:
    assert problems(HEAD + FROZEN) == [
        "p.yaml:4: tiers[0].match.holds[1]: unknown hold kind 'export_review'; "
        "known: fraud, incident_freeze, "
        "legal_hold (a policy adds kinds under holds.kinds)"
    ]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("holds: {kinds: [fraud]}\n", "'fraud' is a built-in hold kind"),
        ("holds: {kinds: [Export Review]}\n", "should match pattern"),
        ("holds: {kinds: [a, a]}\n", "'a' is listed twice"),
        ("holds: {lifted_by: {role: boss}}\n", "Input should be"),
        ("holds: {lifted_by: {roles: [approver]}}\n", "unknown key 'roles'"),
    ],
)
def test_a_malformed_holds_section_is_refused(section: str, expected: str) -> None:
    found = problems(HEAD + section + "tiers:\n  - {name: f, action: block}\n")
    assert any(expected in p for p in found), found
