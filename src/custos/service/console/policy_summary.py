"""The active policy in plain words for the administration page: per tier, whom
it matches, how subjects prove themselves, who approves, which checks run
where. Read-only: the policy changes in its file, never in the browser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from custos.domain.identities import REFUSING_ACTIONS
from custos.domain.model import CredentialAction
from custos.policy.actions import outcome
from custos.policy.runnable import runnable_on
from custos.policy.schema import (
    REISSUE_CHECKS,
    Defaults,
    PolicyDocument,
    Tier,
    format_duration,
)


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """A post-recovery check: optional ones may end "not applicable"; ``runs_on``
    names the targets that can run it (``custos`` for checks run here)."""

    name: str
    optional: bool
    runs_on: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TierSummary:
    name: str
    description: str
    action: str
    blocks: bool
    match: tuple[str, ...]
    channels: tuple[str, ...]
    proofing: tuple[str, ...]
    approvals: str
    step_up: tuple[str, ...]
    token_ttl: str
    checks: tuple[CheckSummary, ...]
    mfa_authenticators: tuple[str, ...]
    required_targets: str
    aal: str
    risk_analysis: str
    #: A refuse tier's instructions: whom the caller should contact.
    instructions: str = ""


def summarize(
    document: PolicyDocument, capabilities: Mapping[str, frozenset[str]]
) -> list[TierSummary]:
    """Every tier of ``document`` in match order; ``capabilities`` (target name
    -> operations) says where each check can run."""
    return [_tier(t, document.defaults, capabilities) for t in document.tiers]


def risk_bands(document: PolicyDocument) -> list[tuple[str, int, int]]:
    """(band, lowest score, highest score), lowest band first."""
    return sorted(((n, lo, hi) for n, (lo, hi) in document.risk_bands.items()), key=lambda b: b[1])


def defaults(document: PolicyDocument) -> list[tuple[str, str]]:
    d: Defaults = document.defaults
    return [
        ("Case lifetime", format_duration(d.case_ttl)),
        ("Failed proofing attempts before denial", str(d.max_proofing_failures)),
        ("Approval expiry", format_duration(d.approval_expiry)),
        (
            "Attestation requests",
            f"at most {d.attestation_requests.per_subject} per subject and "
            f"{d.attestation_requests.per_attester} per manager or sponsor within "
            f"{format_duration(d.attestation_requests.window)}",
        ),
    ]


def holds(document: PolicyDocument) -> list[tuple[str, str]]:
    """The ``holds`` section in words (docs/holds.md)."""
    rules = document.holds.rules()

    def who(role: str, groups: frozenset[str]) -> str:
        return role + (f" in {' or '.join(sorted(groups))}" if groups else "")

    return [
        ("Hold kinds", ", ".join(sorted(rules.kinds))),
        ("Who sets a hold", who(rules.set_role, rules.set_groups)),
        (
            "Who lifts a hold",
            who(rules.lift_role, rules.lift_groups) + ", never the person who set it",
        ),
    ]


def _tier(tier: Tier, base: Defaults, capabilities: Mapping[str, frozenset[str]]) -> TierSummary:
    return TierSummary(
        name=tier.name,
        description=tier.description,
        action=outcome(tier.action),
        blocks=tier.action in REFUSING_ACTIONS,
        match=_match(tier),
        channels=tuple(str(c) for c in tier.channels or ()),
        proofing=_proofing(tier),
        approvals=_approvals(tier, base),
        step_up=tuple(
            f"{band}: {_step(step.model_dump(exclude_none=True))}"
            for band, step in tier.step_up.items()
        ),
        token_ttl=format_duration(tier.token_ttl) if tier.token_ttl else "",
        checks=tuple(
            CheckSummary(c, c in tier.optional_checks, tuple(runnable_on(c, capabilities)))
            for c in _checks(tier)
        ),
        mfa_authenticators=tier.mfa_authenticators if "mfa_bound" in tier.post_checks else (),
        required_targets=(
            "every linked account"
            if tier.required_targets == "all"
            else ", ".join(tier.required_targets)
        ),
        aal=f"AAL{tier.aal}" if tier.aal else "",
        risk_analysis=tier.risk_analysis or "",
        instructions=tier.instructions or "",
    )


def _checks(tier: Tier) -> tuple[str, ...]:
    """The tier's checks, with those a reissue always adds."""
    if tier.action != CredentialAction.REISSUE:
        return tier.post_checks
    return (*tier.post_checks, *(c for c in REISSUE_CHECKS if c not in tier.post_checks))


def _match(tier: Tier) -> tuple[str, ...]:
    m = tier.match
    rules: list[str] = []
    for key, values in (
        ("kind", m.kind),
        ("employment", m.employment),
        ("holds", m.holds),
        ("groups", m.groups),
    ):
        if values:
            rules.append(f"{key}: {' or '.join(str(v) for v in values)}")
    if m.privileged is not None:
        rules.append("privileged" if m.privileged else "not privileged")
    return tuple(rules) or ("every subject",)


def _proofing(tier: Tier) -> tuple[str, ...]:
    p = tier.proofing
    if p is None:
        return ()
    lines = [f"{p.factors} of: {', '.join(p.methods)}"]
    if p.phishing_resistant:
        lines.append("one of them phishing-resistant")
    if p.min_ial:
        lines.append(f"re-proofing at IAL{p.min_ial} or higher")
    if p.required:
        lines.append(f"always including {', '.join(p.required)}")
    if tier.action == CredentialAction.REPROOF:
        lines.append("re-proofing first, before any other proof")
    return tuple(lines)


def _approvals(tier: Tier, base: Defaults) -> str:
    a = tier.approvals
    if tier.action in REFUSING_ACTIONS:
        return ""
    if a.count == 0:
        return "none"
    groups = f" from {', '.join(a.from_groups)}" if a.from_groups else ""
    expiry = format_duration(a.expire_after or base.approval_expiry)
    people = "person" if a.count == 1 else "distinct people"
    return f"{a.count} {people}{groups}, valid {expiry}"


def _step(values: dict[str, object]) -> str:
    if values.get("refuse"):
        reason = values.get("reason")
        return f"refuse ({reason})" if reason else "refuse"
    return ", ".join(f"{k} {_spell(v)}" for k, v in values.items() if k != "refuse")


def _spell(value: object) -> str:
    if isinstance(value, bool):
        return "required" if value else "not required"
    return str(value)
