"""A tier's ``temporary_access_pass`` (docs/policy.md#temporary_access_pass):
its bounds and defaults, the reissue-only rule, the refusal when no target can
issue one, and what ``policy check`` says of it (the mutation targets of
``policy/temporary_access_pass.py`` and ``runnable.unissuable_passes``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from custos.policy.loader import PolicyError, parse_policy, require_runnable_checks
from custos.policy.runnable import unissuable_passes
from custos.policy.temporary_access_pass import TemporaryAccessPassSetting, explain_pass

POLICY = """\
version: 1
risk_bands: {{low: [0, 39], medium: [40, 69], high: [70, 100]}}
tiers:
  - name: admins
    channels: [helpdesk]
    risk_analysis: RA-1
    proofing: {{factors: 1, methods: [totp]}}
    action: {action}
    token_ttl: 10m
    temporary_access_pass: {{lifetime_minutes: 30}}
"""
ENTRA = frozenset({"set_password", "temporary_access_pass"})


def test_defaults_and_graph_bounds() -> None:
    setting = TemporaryAccessPassSetting()
    assert (setting.lifetime_minutes, setting.usable_once, setting.delete_on_completion) == (
        60,
        True,
        False,
    )
    assert TemporaryAccessPassSetting(lifetime_minutes=10).lifetime_minutes == 10
    assert TemporaryAccessPassSetting(lifetime_minutes=43200).lifetime_minutes == 43200
    for bad in (9, 43201, "60", True):
        with pytest.raises(ValidationError):
            TemporaryAccessPassSetting.model_validate({"lifetime_minutes": bad})
    with pytest.raises(ValidationError):
        TemporaryAccessPassSetting.model_validate({"usable_once": "yes"})
    with pytest.raises(ValidationError):
        TemporaryAccessPassSetting.model_validate({"lifetime": 60})


def test_only_a_reissue_tier_may_issue_a_pass() -> None:
    assert parse_policy(POLICY.format(action="reissue"), "p.yaml").document.tiers[0]
    with pytest.raises(PolicyError) as refused:
        parse_policy(POLICY.format(action="reset_token"), "p.yaml")
    assert any(
        "temporary_access_pass only goes with action reissue" in str(p)
        for p in refused.value.problems
    )


def test_a_pass_no_target_can_issue_is_refused_at_its_line() -> None:
    loaded = parse_policy(POLICY.format(action="reissue"), "p.yaml")
    assert unissuable_passes(loaded.document, {"entra": ENTRA, "ldap": frozenset()}) == []
    found = unissuable_passes(loaded.document, {"ldap": frozenset({"set_password"})})
    assert [(u.tier_index, u.tier, u.key) for u in found] == [
        (0, "admins", "temporary_access_pass")
    ]
    assert "targets: ldap" in found[0].reason
    with pytest.raises(PolicyError) as refused:
        require_runnable_checks(loaded, {})
    (problem,) = refused.value.problems
    assert problem.line == 10
    assert "tiers[0].temporary_access_pass: tier 'admins' issues a Temporary Access Pass" in str(
        problem
    )
    assert "targets: none" in str(problem)


def test_policy_check_words() -> None:
    """What ``custos policy check`` prints for a tier's pass, word for word."""
    once = explain_pass(TemporaryAccessPassSetting(lifetime_minutes=30), ["entra", "entra2"])
    assert once == (
        "after the factors are removed, a Temporary Access Pass on entra, entra2 "
        "(30 min, one sign-in), sent to the subject once through a one-time link; "
        "deleted only when it never reached the subject or the case did not complete"
    )
    many = explain_pass(
        TemporaryAccessPassSetting(usable_once=False, delete_on_completion=True), ["entra"]
    )
    assert many == (
        "after the factors are removed, a Temporary Access Pass on entra "
        "(60 min, any number of sign-ins), sent to the subject once through a one-time "
        "link; deleted once the case completed and its lifetime ran out"
    )


def test_an_unissuable_pass_is_reported_whole() -> None:
    """The record policy check and bootstrap print: the tier, the setting as
    its key (no list index: -1), and the targets there are, sorted."""
    loaded = parse_policy(POLICY.format(action="reissue"), "p.yaml")
    found = unissuable_passes(loaded.document, {"scim": frozenset(), "ldap": frozenset()})
    assert [(u.tier_index, u.tier, u.check, u.check_index, u.key) for u in found] == [
        (0, "admins", "temporary_access_pass", -1, "temporary_access_pass")
    ]
    assert found[0].reason == (
        "tier 'admins' issues a Temporary Access Pass, which no configured target can "
        "issue (it needs a target offering temporary_access_pass, e.g. kind entra; "
        "targets: ldap, scim); remove temporary_access_pass or configure such a target"
    )
