"""The requirements an incident campaign places on each subject's case: the
policy's ``campaigns`` section names the tier and its approvals; the action is
the campaign's (docs/campaigns.md, docs/policy.md#campaigns). Pure."""

from __future__ import annotations

from datetime import timedelta

from custos.domain.model import Channel, CredentialAction, Requirements, RiskAssessment, Subject
from custos.policy.engine import PRIVILEGED_POST_CHECK, band_for
from custos.policy.loader import LoadedPolicy

#: What each campaign action checks afterwards, and which of those may be "not
#: applicable" on a target that cannot run them (an LDAP directory holds no
#: sessions). A privileged subject's sessions_revoked is never optional (R-24).
CHECKS: dict[CredentialAction, tuple[tuple[str, ...], frozenset[str]]] = {
    CredentialAction.FORCE_RESET: (
        ("read_back", "sessions_revoked"),
        frozenset({"sessions_revoked"}),
    ),
    CredentialAction.REVOKE_SESSIONS: (("sessions_revoked",), frozenset({"sessions_revoked"})),
    CredentialAction.REISSUE: (
        ("read_back", "sessions_revoked", "factors_removed"),
        frozenset({"sessions_revoked", "factors_removed"}),
    ),
}
#: A campaign case needs no token: it lives as long as its propagation does.
CASE_TTL = timedelta(days=7)


def campaign_risk(policy: LoadedPolicy) -> RiskAssessment:
    """A campaign case is not a request to score: the lowest band, said so."""
    return RiskAssessment(score=0, band=band_for(policy, 0), reasons=("incident campaign",))


def campaign_requirements(
    policy: LoadedPolicy, action: CredentialAction, subject: Subject
) -> Requirements:
    """The frozen requirements of one campaign case for ``subject``. Raises
    KeyError for an action that is not a campaign's."""
    section = policy.document.campaigns
    post_checks, optional = CHECKS[action]
    if subject.privileged:
        optional = optional - {PRIVILEGED_POST_CHECK}
    return Requirements(
        tier=section.tier,
        action=action,
        channels=frozenset({Channel.CAMPAIGN}),
        factors=0,
        methods=frozenset(),
        phishing_resistant=False,
        approvals=section.approvals.count,
        approver_groups=frozenset(section.approvals.from_groups),
        approval_expiry=section.approvals.expire_after or policy.document.defaults.approval_expiry,
        token_ttl=timedelta(0),
        post_checks=post_checks,
        required_targets=None,
        case_ttl=CASE_TTL,
        max_proofing_failures=policy.document.defaults.max_proofing_failures,
        policy_hash=policy.hash,
        policy_version=policy.document.version,
        risk_band=band_for(policy, 0),
        optional_checks=optional,
    )
