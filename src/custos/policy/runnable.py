"""Which post-recovery checks the configured targets can run at all, and the
tiers that require one none of them can (``custos policy check``, bootstrap);
likewise a tier's ``temporary_access_pass`` that no configured target can issue.

A required check that no target can ever run would send every case of its tier
to needs_attention (or, worse, pass on "not applicable"): it is refused when the
policy is loaded, naming the tier and the check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custos.policy.schema import PolicyDocument

#: The connector operations a check needs on a target; None: the check runs in
#: Custos itself (``mfa_bound`` reads the authenticators bound here).
CHECK_NEEDS: dict[str, frozenset[str] | None] = {
    "read_back": frozenset({"read_password_changed", "read_password_changed_many"}),
    "sessions_revoked": frozenset({"revoke_sessions"}),
    "mfa_bound": None,
    # Always runs in Custos (no authenticator left bound here); targets that
    # read or reset factors are read back too.
    "factors_removed": None,
}


@dataclass(frozen=True, slots=True)
class Unrunnable:
    """A tier requires ``check`` but no configured target can run it."""

    tier_index: int
    tier: str
    check: str
    check_index: int
    reason: str
    #: The tier's key the problem is at: ``post_checks`` (at ``check_index``) or
    #: ``temporary_access_pass``.
    key: str = "post_checks"


def runnable_on(check: str, capabilities: Mapping[str, frozenset[str]]) -> list[str]:
    """The targets (of ``capabilities``: name -> operations) that can run ``check``;
    ``["custos"]`` for a check that runs in Custos itself."""
    needs = CHECK_NEEDS[check]
    if needs is None:
        return ["custos"]
    return sorted(name for name, offered in capabilities.items() if offered & needs)


def unrunnable_checks(
    document: PolicyDocument, capabilities: Mapping[str, frozenset[str]]
) -> list[Unrunnable]:
    """Every (tier, check) pair where the tier requires the check (listed in
    ``post_checks`` and not in ``optional_checks``) and no configured target
    offers what it needs."""
    found: list[Unrunnable] = []
    for tier_index, tier in enumerate(document.tiers):
        for check_index, check in enumerate(tier.post_checks):
            if check in tier.optional_checks or runnable_on(check, capabilities):
                continue
            needs = ", ".join(sorted(CHECK_NEEDS[check] or ()))
            targets = ", ".join(sorted(capabilities)) or "none"
            found.append(
                Unrunnable(
                    tier_index,
                    tier.name,
                    check,
                    check_index,
                    f"tier '{tier.name}' requires check '{check}', which no configured "
                    f"target can run (it needs {needs}; targets: {targets}); mark it "
                    "optional in optional_checks or configure a target that offers it",
                )
            )
    return found


#: The connector operation a tier's ``temporary_access_pass`` needs on some target.
TAP_NEEDS = "temporary_access_pass"


def unissuable_passes(
    document: PolicyDocument, capabilities: Mapping[str, frozenset[str]]
) -> list[Unrunnable]:
    """Every tier with a ``temporary_access_pass`` when no configured target can
    issue one: the setting would silently do nothing (docs/policy.md)."""
    if any(TAP_NEEDS in offered for offered in capabilities.values()):
        return []
    targets = ", ".join(sorted(capabilities)) or "none"
    return [
        Unrunnable(
            tier_index,
            tier.name,
            TAP_NEEDS,
            -1,
            f"tier '{tier.name}' issues a Temporary Access Pass, which no configured target "
            f"can issue (it needs a target offering {TAP_NEEDS}, e.g. kind entra; targets: "
            f"{targets}); remove temporary_access_pass or configure such a target",
            key="temporary_access_pass",
        )
        for tier_index, tier in enumerate(document.tiers)
        if tier.temporary_access_pass is not None
    ]
