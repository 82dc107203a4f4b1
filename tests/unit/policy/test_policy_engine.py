"""Requirements the engine places on a case, field by field, over a policy whose
every number differs from the defaults (so a field taken from the wrong place shows)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.domain.errors import InvalidInput, RecoveryBlocked
from custos.domain.model import (
    Channel,
    CredentialAction,
    Employment,
    Hold,
    Requirements,
    RiskAssessment,
    Subject,
    SubjectKind,
)
from custos.policy.engine import (
    Opening,
    band_for,
    refusal_reason,
    select_requirements,
    tier_requirements,
)
from custos.policy.loader import LoadedPolicy, parse_policy

TEXT = """\
version: 3
risk_bands: {calm: [0, 49], hot: [50, 100]}
defaults: {case_ttl: 12h, max_proofing_failures: 3, approval_expiry: 6h}
tiers:
  - name: locked
    match: {holds: [legal_hold]}
    action: block
    approvals: {count: 3, from_groups: [breakglass], expire_after: 2h}
  - name: frozen
    match: {holds: [incident_freeze]}
    action: block
  - name: keys
    match: {groups: [key-holders]}
    risk_analysis: RA-9
    channels: [helpdesk]
    proofing: {factors: 1, methods: [webauthn, totp], phishing_resistant: true}
    approvals: {count: 1, expire_after: 90m}
    action: reset_token
    token_ttl: 5m
  - name: plain
    match: {kind: human}
    channels: [self_service]
    proofing: {factors: 1, methods: [webauthn, totp]}
    step_up: {hot: {phishing_resistant: true}}
    action: reset_token
    token_ttl: 7m
    required_targets: [directory, mail]
"""
POLICY: LoadedPolicy = parse_policy(TEXT, "engine.yaml")
CALM = RiskAssessment(score=10, band="calm", reasons=())
HOT = RiskAssessment(score=60, band="hot", reasons=())


def select(subject: Subject, risk: RiskAssessment = CALM) -> Requirements:
    return select_requirements(POLICY, subject, Channel.SELF_SERVICE, risk)


def person(**attrs: object) -> Subject:
    return Subject(id="u1", display_name="U One", **attrs)  # type: ignore[arg-type]


def test_block_tier_requirements_are_pinned_field_by_field() -> None:
    """R-32: a block tier proves nothing and issues nothing; its approvals are the
    break-glass quorum, frozen with the policy's identity and the case's band."""
    req = select(person(holds=frozenset({Hold.LEGAL_HOLD})), HOT)
    assert req == Requirements(
        tier="locked",
        action=CredentialAction.BLOCK,
        channels=frozenset(Channel),
        factors=0,
        methods=frozenset(),
        phishing_resistant=False,
        approvals=3,
        approver_groups=frozenset({"breakglass"}),
        approval_expiry=timedelta(hours=2),
        token_ttl=timedelta(0),
        post_checks=(),
        required_targets=None,
        case_ttl=timedelta(hours=12),
        max_proofing_failures=3,
        policy_hash=POLICY.hash,
        policy_version=3,
        risk_band="hot",
        refused=False,
        refusal_reason="",
        aal=None,
        min_ial=None,
    )


def test_block_tier_without_expiry_takes_the_default_approval_expiry() -> None:
    """A block tier that states no approvals needs no quorum beyond the break-glass
    floor the service applies, and its approvals lapse after the policy default."""
    req = select(person(holds=frozenset({Hold.INCIDENT_FREEZE})))
    assert (req.tier, req.action) == ("frozen", CredentialAction.BLOCK)
    assert (req.approvals, req.approver_groups) == (0, frozenset())
    assert req.approval_expiry == timedelta(hours=6)
    assert req.risk_band == "calm"


def test_approval_expiry_is_the_tiers_own_when_stated() -> None:
    """An approval lapses after the tier's ``expire_after``, not the default."""
    req = select(person(groups=frozenset({"key-holders"})))
    assert req.tier == "keys"
    assert req.approval_expiry == timedelta(minutes=90)


def test_approval_expiry_falls_back_to_the_policy_default() -> None:
    """A tier that states no ``expire_after`` takes ``defaults.approval_expiry``."""
    req = select(person())
    assert req.tier == "plain"
    assert req.approval_expiry == timedelta(hours=6)


def test_tier_phishing_resistant_reaches_the_requirements() -> None:
    """A tier-level ``phishing_resistant`` is demanded of the case at every band."""
    for risk in (CALM, HOT):
        req = select(person(groups=frozenset({"key-holders"})), risk)
        assert req.phishing_resistant is True


def test_phishing_resistant_comes_only_from_the_tier_or_the_band() -> None:
    """Without the tier's or the band's say, a case need not be phishing-resistant;
    a step-up that asks for it raises it."""
    assert select(person(), CALM).phishing_resistant is False
    assert select(person(), HOT).phishing_resistant is True


def test_recovery_tier_requirements_are_pinned_field_by_field() -> None:
    """Every field of a recovery tier's requirements comes from the tier or the
    policy defaults, frozen with the policy's identity."""
    req = select(person(groups=frozenset({"key-holders"})), HOT)
    assert req == Requirements(
        tier="keys",
        action=CredentialAction.RESET_TOKEN,
        channels=frozenset({Channel.HELPDESK}),
        factors=1,
        methods=frozenset({"webauthn", "totp"}),
        phishing_resistant=True,
        approvals=1,
        approver_groups=frozenset(),
        approval_expiry=timedelta(minutes=90),
        token_ttl=timedelta(minutes=5),
        post_checks=(),
        required_targets=None,
        case_ttl=timedelta(hours=12),
        max_proofing_failures=3,
        policy_hash=POLICY.hash,
        policy_version=3,
        risk_band="hot",
        refused=False,
        refusal_reason="",
        aal=None,
        min_ial=None,
    )


@pytest.mark.parametrize("privileged", [True, False])
def test_privileged_floor_applies_only_to_privileged_subjects(privileged: bool) -> None:
    """R-32, R-24: two approvals and ``sessions_revoked`` for privileged subjects only."""
    req = select(person(groups=frozenset({"key-holders"}), privileged=privileged))
    assert req.approvals == (2 if privileged else 1)
    assert req.post_checks == (("sessions_revoked",) if privileged else ())


def test_required_targets_listed_by_the_tier_are_frozen_in_order() -> None:
    """A tier naming its required targets freezes them, in the policy's order."""
    assert select(person()).required_targets == ("directory", "mail")


def test_unmatched_subject_is_blocked_with_its_details() -> None:
    """A subject no tier describes is not recovered; the refusal names the subject
    and the policy (error details, shown to the operator)."""
    service = Subject(
        id="svc-9", display_name="Svc", kind=SubjectKind.SERVICE, employment=Employment.NONE
    )
    with pytest.raises(RecoveryBlocked) as caught:
        select(service)
    assert caught.value.details == {"subject": "svc-9", "policy_hash": POLICY.hash}
    assert caught.value.message == (
        "no policy tier matches subject 'svc-9' (kind service, employment none, privileged False)"
    )


def test_undeclared_band_is_refused_with_its_details() -> None:
    with pytest.raises(InvalidInput) as caught:
        select(person(), RiskAssessment(score=99, band="extreme", reasons=()))
    assert caught.value.details == {"band": "extreme"}
    assert caught.value.message == f"risk band 'extreme' is not declared by policy {POLICY.hash}"


@pytest.mark.parametrize("score", [-1, 101])
def test_band_for_names_the_score_out_of_range(score: int) -> None:
    with pytest.raises(ValueError, match=rf"^risk score {score} is outside 0\.\.100$"):
        band_for(POLICY, score)


OPTIONAL = parse_policy(
    TEXT.replace(
        "    approvals: {count: 1, expire_after: 90m}\n",
        "    approvals: {count: 1, expire_after: 90m}\n"
        "    post_checks: [read_back, sessions_revoked]\n"
        "    optional_checks: [read_back, sessions_revoked]\n"
        "    mfa_authenticators: [webauthn, totp]\n",
    ),
    "optional.yaml",
)


@pytest.mark.parametrize("privileged", [False, True])
def test_optional_checks_and_mfa_authenticators_reach_the_case(privileged: bool) -> None:
    """R-24: sessions_revoked may end "not applicable" only for an unprivileged
    subject; for a privileged one it is always required, whichever tier matched.
    The tier's accepted MFA authenticators are frozen on the case (R-6)."""
    holder = person(groups=frozenset({"key-holders"}), privileged=privileged)
    req = select_requirements(OPTIONAL, holder, Channel.HELPDESK, CALM)
    assert req.post_checks == ("read_back", "sessions_revoked")
    expected = {"read_back"} if privileged else {"read_back", "sessions_revoked"}
    assert req.optional_checks == expected
    assert req.mfa_authenticators == {"webauthn", "totp"}


@pytest.mark.parametrize(
    ("opening", "reason"),
    [
        (Opening.PROOFING, ""),
        (Opening.HELD, ""),
        (Opening.BLOCKED, "tier 'plain' blocks recovery"),
        (Opening.CHANNEL_REFUSED, "channel 'helpdesk' is not allowed for tier 'plain'"),
    ],
)
def test_refusal_reason_is_empty_only_for_a_case_that_goes_on(
    opening: Opening, reason: str
) -> None:
    """R-35: a case's recorded refusal reason names the tier or channel that
    refused it; a case that goes on to proofing records none (nor does a held
    case, whose reason is the hold's)."""
    req = select(person())
    assert refusal_reason(req, Channel.HELPDESK, opening) == reason


def test_a_named_tier_applies_whether_or_not_it_matches() -> None:
    """A break-glass exception names the tier (docs/exceptions.md): its
    requirements are built as select_requirements builds them, for this
    subject (R-32: a privileged one gets two approvals) at this band."""
    boss = person(privileged=True)  # matches "plain", not "keys"
    req = tier_requirements(POLICY, boss, "keys", HOT)
    assert req == Requirements(
        tier="keys",
        action=CredentialAction.RESET_TOKEN,
        channels=frozenset({Channel.HELPDESK}),
        factors=1,
        methods=frozenset({"webauthn", "totp"}),
        phishing_resistant=True,
        approvals=2,
        approver_groups=frozenset(),
        approval_expiry=timedelta(minutes=90),
        token_ttl=timedelta(minutes=5),
        post_checks=("sessions_revoked",),
        required_targets=None,
        case_ttl=timedelta(hours=12),
        max_proofing_failures=3,
        policy_hash=POLICY.hash,
        policy_version=3,
        risk_band="hot",
    )
    assert tier_requirements(POLICY, person(), "plain", CALM).risk_band == "calm"
    assert tier_requirements(POLICY, person(), "plain", HOT).phishing_resistant is True


def test_an_unknown_tier_or_band_is_refused_with_its_details() -> None:
    with pytest.raises(InvalidInput) as caught:
        tier_requirements(POLICY, person(), "nope", CALM)
    assert caught.value.message == f"policy {POLICY.hash} has no tier 'nope'"
    assert caught.value.details == {"tier": "nope"}
    with pytest.raises(InvalidInput) as caught:
        tier_requirements(POLICY, person(), "keys", RiskAssessment(score=1, band="x", reasons=()))
    assert caught.value.details == {"band": "x"}
