"""Tier selection: which requirements a policy places on one recovery case.

Pure functions over a :class:`LoadedPolicy`; the service layer freezes the
returned :class:`Requirements` on the case when it opens, and checks the
request's channel against ``requirements.channels`` itself.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from custos.domain.errors import InvalidInput, RecoveryBlocked
from custos.domain.identities import REFUSING_ACTIONS
from custos.domain.model import (
    REPROOFING,
    Channel,
    CredentialAction,
    Requirements,
    RiskAssessment,
    Subject,
)
from custos.policy.loader import LoadedPolicy
from custos.policy.schema import REISSUE_CHECKS, SCORE_MAX, SCORE_MIN, Match, Tier

#: R-32: a privileged subject's recovery always needs two distinct approvers.
PRIVILEGED_MIN_APPROVALS = 2
#: R-24: a privileged subject's other sessions always end.
PRIVILEGED_POST_CHECK = "sessions_revoked"


class Opening(StrEnum):
    """How a request leaves the opening of its case, given its requirements and
    channel (:func:`opening_of`); ``NO_TIER`` is the request no tier describes,
    for which :func:`select_requirements` raises and no case opens."""

    PROOFING = "proofing"  # the case goes on to collect proofs
    BLOCKED = "blocked"  # a block tier
    TIER_REFUSED = "tier_refused"  # a refuse tier: recovery refused with instructions
    CHANNEL_REFUSED = "channel_refused"  # the channel is not one the tier allows
    RISK_REFUSED = "risk_refused"  # the risk band's step-up refuses recovery
    NO_TIER = "no_tier"  # no tier matches the subject
    #: A hold stands on the subject: open_case blocks the case whatever the tier
    #: says (service/holds); never an answer of :func:`opening_of`.
    HELD = "held"

    @property
    def refused(self) -> bool:
        return self != Opening.PROOFING


def opening_of(req: Requirements, channel: Channel) -> Opening:
    """Where a case with ``req``, asked for over ``channel``, goes when it opens:
    blocked by a block tier, refused by a refuse tier, refused for its channel,
    refused at its risk band, or on to proofing; in that order. (Refusals that
    are not the policy's, such as an ended contract, are the service's.)"""
    if req.action == CredentialAction.BLOCK:
        return Opening.BLOCKED
    if req.action == CredentialAction.REFUSE:
        return Opening.TIER_REFUSED
    if channel not in req.channels:
        return Opening.CHANNEL_REFUSED
    if req.refused:
        return Opening.RISK_REFUSED
    return Opening.PROOFING


def refusal_reason(req: Requirements, channel: Channel, opening: Opening) -> str:
    """The reason a case refused at ``opening`` records ("" for proofing)."""
    if opening == Opening.BLOCKED:
        return f"tier '{req.tier}' blocks recovery"
    if opening == Opening.TIER_REFUSED:
        return tier_refusal(req)
    if opening == Opening.CHANNEL_REFUSED:
        return f"channel '{channel}' is not allowed for tier '{req.tier}'"
    if opening == Opening.RISK_REFUSED:
        return req.refusal_reason
    return ""


def tier_refusal(req: Requirements) -> str:
    """The reason a ``refuse`` tier gives, with its instructions."""
    return f"tier '{req.tier}' refuses recovery here: {req.instructions}"


def band_for(policy: LoadedPolicy, score: int) -> str:
    """The name of the risk band holding ``score``.

    Bands cover 0..100 without gaps (the schema guarantees it), so every score in
    range has exactly one band. Raises :class:`ValueError` outside 0..100.
    """
    if not SCORE_MIN <= score <= SCORE_MAX:
        raise ValueError(f"risk score {score} is outside {SCORE_MIN}..{SCORE_MAX}")
    for name, (low, high) in policy.document.risk_bands.items():
        if low <= score <= high:
            return name
    raise AssertionError(f"risk bands of {policy.source} do not cover {score}")  # pragma: no cover


def matches(match: Match, subject: Subject) -> bool:
    """Whether ``subject`` fits ``match``: every stated key holds; list keys hold
    when any listed value applies (for holds and groups: any the subject has)."""
    if match.kind is not None and subject.kind not in match.kind:
        return False
    if match.employment is not None and subject.employment not in match.employment:
        return False
    if match.privileged is not None and subject.privileged != match.privileged:
        return False
    if match.holds is not None and not subject.holds.intersection(match.holds):
        return False
    return match.groups is None or bool(subject.groups.intersection(match.groups))


def select_tier(policy: LoadedPolicy, subject: Subject) -> Tier:
    """The first tier whose match fits ``subject``.

    Raises :class:`RecoveryBlocked` when no tier matches: a subject the policy does
    not describe is not recovered.
    """
    for tier in policy.document.tiers:
        if matches(tier.match, subject):
            return tier
    raise RecoveryBlocked(
        f"no policy tier matches subject '{subject.id}' "
        f"(kind {subject.kind}, employment {subject.employment}, "
        f"privileged {subject.privileged})",
        subject=subject.id,
        policy_hash=policy.hash,
    )


def select_requirements(
    policy: LoadedPolicy, subject: Subject, channel: Channel, risk: RiskAssessment
) -> Requirements:
    """The requirements the first matching tier, stepped up for ``risk.band``,
    places on a case for ``subject``, with the policy hash, version and band frozen in.

    ``channel`` is not checked here (the service layer compares it with
    ``requirements.channels``). A ``block`` tier yields ``action=BLOCK`` and allows
    every channel, so the request surfaces as blocked, not as a wrong channel; a
    ``refuse`` tier likewise, with its ``instructions``. A ``reissue`` always
    checks ``sessions_revoked`` and ``factors_removed``; a ``reproof`` requires a
    passed re-proofing. A refusing step-up yields ``refused=True`` and a
    ``refusal_reason``. Privileged subjects always get at least two approvals
    (R-32) and a required (never optional) ``sessions_revoked`` (R-24),
    whichever tier matched.

    Raises :class:`RecoveryBlocked` if no tier matches and :class:`InvalidInput`
    if ``risk.band`` is not a band of this policy.
    """
    del channel  # part of the contract for future channel-aware tiers; unused in v1
    _check_band(policy, risk)
    return _tier_requirements(policy, select_tier(policy, subject), subject, risk)


def tier_requirements(
    policy: LoadedPolicy, subject: Subject, tier_name: str, risk: RiskAssessment
) -> Requirements:
    """The requirements the tier named ``tier_name`` (whether or not it matches
    ``subject``) places on a case for ``subject``, as :func:`select_requirements`
    builds them: a break-glass exception that names the tier to recover a
    subject under whom the policy blocks. Raises :class:`InvalidInput` for an
    unknown tier or band."""
    _check_band(policy, risk)
    for tier in policy.document.tiers:
        if tier.name == tier_name:
            return _tier_requirements(policy, tier, subject, risk)
    raise InvalidInput(f"policy {policy.hash} has no tier '{tier_name}'", tier=tier_name)


def _check_band(policy: LoadedPolicy, risk: RiskAssessment) -> None:
    if risk.band not in policy.document.risk_bands:
        raise InvalidInput(
            f"risk band '{risk.band}' is not declared by policy {policy.hash}",
            band=risk.band,
        )


def _tier_requirements(
    policy: LoadedPolicy, tier: Tier, subject: Subject, risk: RiskAssessment
) -> Requirements:
    document = policy.document
    if tier.action in REFUSING_ACTIONS or tier.proofing is None or tier.token_ttl is None:
        # The schema gives every non-block tier proofing and token_ttl; the last
        # two tests only narrow the types.
        return _blocked(policy, tier, risk.band)
    factors = tier.proofing.factors
    phishing_resistant = tier.proofing.phishing_resistant
    count = tier.approvals.count
    post_checks = tier.post_checks
    optional = frozenset(tier.optional_checks)
    refused, refusal_reason = False, ""
    step = tier.step_up.get(risk.band)
    if step is not None:
        if step.refuse:
            refused = True
            refusal_reason = step.reason or (
                f"tier '{tier.name}' refuses recovery at risk band '{risk.band}'"
            )
        factors = max(factors, step.factors or 0)
        count = max(count, step.approvals or 0)
        phishing_resistant = phishing_resistant or bool(step.phishing_resistant)
    if subject.privileged:
        count = max(count, PRIVILEGED_MIN_APPROVALS)
        if PRIVILEGED_POST_CHECK not in post_checks:
            post_checks = (*post_checks, PRIVILEGED_POST_CHECK)
        # R-24 "always for privileged": never "not applicable" for them.
        optional = optional - {PRIVILEGED_POST_CHECK}
    required_methods = frozenset(tier.proofing.required)
    if tier.action == CredentialAction.REISSUE:
        if "factors_removed" not in post_checks:
            # Not listed: removed "where a target can"; a target that neither
            # reports nor removes factors is not applicable (Custos always checks).
            optional = optional | {"factors_removed"}
        post_checks = (*post_checks, *(c for c in REISSUE_CHECKS if c not in post_checks))
    if tier.action == CredentialAction.REPROOF:
        required_methods |= {REPROOFING}
    targets = tier.required_targets
    return Requirements(
        tier=tier.name,
        action=tier.action,
        channels=frozenset(tier.channels or ()),
        factors=factors,
        methods=frozenset(tier.proofing.methods),
        phishing_resistant=phishing_resistant,
        approvals=count,
        approver_groups=frozenset(tier.approvals.from_groups),
        approval_expiry=tier.approvals.expire_after or document.defaults.approval_expiry,
        token_ttl=tier.token_ttl,
        post_checks=post_checks,
        required_targets=None if targets == "all" else tuple(targets),
        case_ttl=document.defaults.case_ttl,
        max_proofing_failures=document.defaults.max_proofing_failures,
        policy_hash=policy.hash,
        policy_version=document.version,
        risk_band=risk.band,
        refused=refused,
        refusal_reason=refusal_reason,
        aal=tier.aal,
        min_ial=tier.proofing.min_ial,
        optional_checks=optional,
        mfa_authenticators=frozenset(tier.mfa_authenticators),
        required_methods=required_methods,
    )


def _blocked(policy: LoadedPolicy, tier: Tier, band: str) -> Requirements:
    """Requirements of a block or refuse tier: nothing to prove, every channel,
    no credential; a refuse tier's instructions."""
    document = policy.document
    return Requirements(
        tier=tier.name,
        action=tier.action if tier.action in REFUSING_ACTIONS else CredentialAction.BLOCK,
        channels=frozenset(Channel),
        factors=0,
        methods=frozenset(),
        phishing_resistant=False,
        # A block tier's approvals are the quorum a break-glass exit will need.
        approvals=tier.approvals.count,
        approver_groups=frozenset(tier.approvals.from_groups),
        approval_expiry=tier.approvals.expire_after or document.defaults.approval_expiry,
        token_ttl=timedelta(0),
        post_checks=(),
        required_targets=None,
        case_ttl=document.defaults.case_ttl,
        max_proofing_failures=document.defaults.max_proofing_failures,
        policy_hash=policy.hash,
        policy_version=document.version,
        risk_band=band,
        instructions=tier.instructions or "",
    )
