"""Which post-recovery checks the configured targets can run, and the tiers
refused for requiring one none can (issue 11 "Honest checks"; the mutation gaps
of ``policy/runnable.py``, ``loader.require_runnable_checks`` and the
authenticator-kind validator, docs/testing.md)."""

from __future__ import annotations

import pytest

from custos.policy.loader import PolicyError, parse_policy, require_runnable_checks
from custos.policy.runnable import CHECK_NEEDS, runnable_on, unrunnable_checks

POLICY = """\
version: 3
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - name: first
    channels: [self_service]
    proofing: {factors: 1, methods: [totp]}
    action: reset_token
    token_ttl: 15m
    post_checks: [mfa_bound, read_back, sessions_revoked]
  - name: second
    channels: [self_service]
    proofing: {factors: 1, methods: [totp]}
    action: reset_token
    token_ttl: 15m
    post_checks: [sessions_revoked, read_back]
    optional_checks: [read_back]
"""

LDAP = frozenset({"set_password", "read_password_changed"})
SCIM_MANY = frozenset({"set_password", "read_password_changed_many"})
SSO = frozenset({"revoke_sessions"})


def test_every_known_check_says_what_it_needs() -> None:
    assert {
        "read_back": frozenset({"read_password_changed", "read_password_changed_many"}),
        "sessions_revoked": frozenset({"revoke_sessions"}),
        "mfa_bound": None,
        "factors_removed": None,
    } == CHECK_NEEDS


def test_a_check_runs_on_every_target_offering_either_operation_sorted() -> None:
    capabilities = {"zeta": LDAP, "alpha": SCIM_MANY, "sso": SSO, "bare": frozenset()}
    assert runnable_on("read_back", capabilities) == ["alpha", "zeta"]
    assert runnable_on("sessions_revoked", capabilities) == ["sso"]


def test_mfa_bound_runs_in_custos_whatever_the_targets() -> None:
    assert runnable_on("mfa_bound", {}) == ["custos"]
    assert runnable_on("mfa_bound", {"ldap": LDAP}) == ["custos"]


def test_no_target_runs_nothing() -> None:
    assert runnable_on("read_back", {}) == []
    assert runnable_on("sessions_revoked", {"ldap": LDAP}) == []


def test_every_required_check_no_target_runs_is_named_with_its_place() -> None:
    document = parse_policy(POLICY, "p.yaml").document
    found = unrunnable_checks(document, {"ldap": LDAP, "bare": frozenset()})
    assert [(u.tier_index, u.tier, u.check, u.check_index) for u in found] == [
        (0, "first", "sessions_revoked", 2),
        (1, "second", "sessions_revoked", 0),
    ]
    assert found[0].reason == (
        "tier 'first' requires check 'sessions_revoked', which no configured target can "
        "run (it needs revoke_sessions; targets: bare, ldap); mark it optional in "
        "optional_checks or configure a target that offers it"
    )


def test_an_optional_check_is_never_refused() -> None:
    document = parse_policy(POLICY, "p.yaml").document
    found = unrunnable_checks(document, {"sso": SSO})
    assert [(u.tier, u.check, u.check_index) for u in found] == [("first", "read_back", 1)]
    assert "it needs read_password_changed, read_password_changed_many; targets: sso" in (
        found[0].reason
    )


def test_with_no_targets_the_reason_says_none() -> None:
    document = parse_policy(POLICY, "p.yaml").document
    found = unrunnable_checks(document, {})
    assert [u.check for u in found] == ["read_back", "sessions_revoked", "sessions_revoked"]
    assert all("targets: none)" in u.reason for u in found)


def test_everything_runnable_passes() -> None:
    document = parse_policy(POLICY, "p.yaml").document
    assert unrunnable_checks(document, {"ldap": LDAP, "sso": SSO}) == []
    require_runnable_checks(parse_policy(POLICY, "p.yaml"), {"ldap": LDAP, "sso": SSO})


def test_the_refusal_points_at_each_check_line() -> None:
    """``policy check`` and bootstrap: one problem per tier and check, on the line
    of the ``post_checks`` list holding it, with the source and the reason."""
    loaded = parse_policy(POLICY, "p.yaml")
    with pytest.raises(PolicyError) as refused:
        require_runnable_checks(loaded, {"ldap": LDAP})
    problems = [(p.source, p.line, p.reason.split(":")[0]) for p in refused.value.problems]
    assert problems == [
        ("p.yaml", 9, "tiers[0].post_checks"),
        ("p.yaml", 15, "tiers[1].post_checks"),
    ]
    assert "tier 'second' requires check 'sessions_revoked'" in refused.value.problems[1].reason


@pytest.mark.parametrize("kind", ["webauthn", "totp"])
def test_known_authenticator_kinds_are_accepted(kind: str) -> None:
    text = POLICY.replace(
        "    optional_checks: [read_back]\n",
        f"    optional_checks: [read_back]\n    mfa_authenticators: [{kind}]\n",
    )
    tier = parse_policy(text, "p.yaml").document.tiers[1]
    assert tier.mfa_authenticators == (kind,)


def test_an_unknown_authenticator_kind_is_refused_listing_the_known() -> None:
    text = POLICY.replace(
        "    optional_checks: [read_back]\n",
        "    optional_checks: [read_back]\n    mfa_authenticators: [sms]\n",
    )
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, "p.yaml")
    (problem,) = refused.value.problems
    assert problem.line == 17
    assert "unknown authenticator kind 'sms'; known: totp, webauthn" in problem.reason


def test_a_check_in_a_block_list_is_pointed_at_on_its_own_line() -> None:
    text = POLICY.replace(
        "    post_checks: [mfa_bound, read_back, sessions_revoked]\n",
        "    post_checks:\n      - mfa_bound\n      - read_back\n      - sessions_revoked\n",
    )
    with pytest.raises(PolicyError) as refused:
        require_runnable_checks(parse_policy(text, "p.yaml"), {"ldap": LDAP})
    assert [(p.line, p.reason.split(":")[0]) for p in refused.value.problems] == [
        (12, "tiers[0].post_checks"),
        (18, "tiers[1].post_checks"),
    ]
