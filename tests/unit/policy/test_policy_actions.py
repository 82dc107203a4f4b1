"""The tier actions beyond a reset in the schema and the engine, and the case
rules they bring (issue 13): reissue, reproof, refuse, required methods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from state_now import state_now

from custos.domain.eligibility import contract_refusal, owner_refusal
from custos.domain.errors import ReproofingFirst
from custos.domain.model import (
    Case,
    Channel,
    CredentialAction,
    Employment,
    ProofRecord,
    RiskAssessment,
    Subject,
    SubjectKind,
)
from custos.domain.states import CaseState
from custos.policy.actions import explain, outcome
from custos.policy.engine import select_requirements
from custos.policy.loader import PolicyError, parse_policy

HEAD = "version: 1\nrisk_bands: {all: [0, 100]}\ntiers:\n"
RISK = RiskAssessment(score=0, band="all", reasons=())
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

REISSUE = """\
  - name: admins
    match: {privileged: true}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 2, methods: [totp, email_code]}
    approvals: {count: 2}
    action: reissue
    token_ttl: 10m
    post_checks: [read_back, sessions_revoked]
"""
REPROOF = """\
  - name: vault
    match: {}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, reproofing], required: [totp]}
    action: reproof
    token_ttl: 10m
"""
REFUSE = """\
  - name: nope
    match: {groups: [bg]}
    action: refuse
    instructions: Call the security desk.
"""


def reasons(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "p.yaml")
    return [p.reason for p in caught.value.problems]


def test_reissue_adds_the_session_and_factor_checks_factors_optional_on_targets() -> None:
    req = select_requirements(
        parse_policy(HEAD + REISSUE, "p"),
        Subject(id="root", display_name="Root", privileged=True),
        Channel.HELPDESK,
        RISK,
    )
    assert req.action == CredentialAction.REISSUE
    assert req.post_checks == ("read_back", "sessions_revoked", "factors_removed")
    assert req.optional_checks == frozenset({"factors_removed"})


def test_a_reissue_tier_listing_factors_removed_makes_it_required_everywhere() -> None:
    text = HEAD + REISSUE.replace(
        "[read_back, sessions_revoked]", "[read_back, sessions_revoked, factors_removed]"
    )
    req = select_requirements(
        parse_policy(text, "p"),
        Subject(id="r", display_name="R", privileged=True),
        Channel.HELPDESK,
        RISK,
    )
    assert "factors_removed" not in req.optional_checks


def test_reproof_requires_re_proofing_and_the_tiers_required_methods() -> None:
    req = select_requirements(
        parse_policy(HEAD + REPROOF, "p"), Subject(id="v", display_name="V"), Channel.HELPDESK, RISK
    )
    assert req.required_methods == frozenset({"reproofing", "totp"})


def test_refuse_carries_its_instructions_and_allows_every_channel() -> None:
    req = select_requirements(
        parse_policy(HEAD + REFUSE + REPROOF, "p"),
        Subject(id="v", display_name="V", groups=frozenset({"bg"})),
        Channel.SELF_SERVICE,
        RISK,
    )
    assert req.action == CredentialAction.REFUSE
    assert req.instructions == "Call the security desk."
    assert req.channels == frozenset(Channel)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            HEAD + REFUSE.replace("    instructions: Call the security desk.\n", ""),
            "needs 'instructions'",
        ),
        (
            HEAD + REFUSE + "    channels: [helpdesk]\n",
            "a refuse tier refuses recovery; remove 'channels'",
        ),
        (
            HEAD + REPROOF.replace("action: reproof", "action: reset_token\n    instructions: x"),
            "'instructions' only goes with action refuse",
        ),
        (
            HEAD + REISSUE.replace("sessions_revoked]", "sessions_revoked, mfa_bound]"),
            "mfa_bound could never pass",
        ),
        (
            HEAD
            + REPROOF.replace(
                "action: reproof", "action: reset_token\n    post_checks: [factors_removed]"
            ),
            "factors_removed only goes with action reissue",
        ),
        (
            HEAD + REPROOF.replace("[totp, reproofing], required: [totp]", "[totp, email_code]"),
            "a reproof tier re-proofs first",
        ),
        (
            HEAD + REPROOF.replace("required: [totp]", "required: [email_code]"),
            "required method 'email_code' is not listed in methods",
        ),
        (
            HEAD + REPROOF.replace("required: [totp]", "required: [totp, reproofing]"),
            "2 required methods exceed factors (1)",
        ),
    ],
)
def test_combinations_that_cannot_work_are_refused(text: str, reason: str) -> None:
    assert any(reason in r for r in reasons(text)), reasons(text)


def test_attestation_caps_have_defaults_and_bounds() -> None:
    caps = parse_policy(HEAD + REFUSE, "p").document.defaults.attestation_requests
    assert (caps.per_subject, caps.per_attester, caps.window) == (2, 5, timedelta(hours=24))
    bad = HEAD.replace("tiers:", "defaults: {attestation_requests: {per_subject: 0}}\ntiers:")
    assert reasons(bad + REFUSE)


def test_every_action_is_explained_in_words() -> None:
    for action in CredentialAction:
        assert outcome(action) != str(action)
    assert explain(CredentialAction.REFUSE, "Call X.").endswith(': "Call X."')


def _case(required: frozenset[str], action: CredentialAction) -> Case:
    req = select_requirements(
        parse_policy(HEAD + REPROOF, "p"), Subject(id="v", display_name="V"), Channel.HELPDESK, RISK
    )
    import dataclasses

    req = dataclasses.replace(req, required_methods=required, action=action)
    return Case(
        id="c",
        subject_id="v",
        channel=Channel.HELPDESK,
        reason="r",
        state=CaseState.PROOFING,
        opened_at=NOW,
        updated_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        requirements=req,
        risk=RISK,
        requested_by="operator:x",
    )


def _proof(method: str, passed: bool = True) -> ProofRecord:
    return ProofRecord(method=method, passed=passed, at=NOW, actor="operator:x")


def test_a_reproof_case_takes_no_other_proof_before_re_proofing() -> None:
    case = _case(frozenset({"reproofing"}), CredentialAction.REPROOF)
    with pytest.raises(ReproofingFirst) as first:
        case.record_proof(_proof("totp"))
    assert first.value.message == (
        f"tier '{case.requirements.tier}' re-proofs the subject's identity through "
        "the identity verification provider before any other proof"
    )
    assert first.value.details == {"method": "reproofing"}
    assert case.proofs == []
    case.record_proof(_proof("reproofing", passed=False))
    assert case.awaits_reproofing()
    case.record_proof(_proof("reproofing"))
    assert case.state == CaseState.APPROVED


def test_a_required_method_must_pass_whatever_else_did() -> None:
    case = _case(frozenset({"reproofing"}), CredentialAction.RESET_TOKEN)
    case.record_proof(_proof("totp"))
    assert case.state == CaseState.PROOFING and not case.proofing_satisfied()
    case.record_proof(_proof("reproofing"))
    assert state_now(case) == CaseState.APPROVED


def test_an_ended_contract_refuses_and_a_running_one_does_not() -> None:
    carl = Subject(id="carl", display_name="Carl", employment=Employment.CONTRACTOR)
    assert contract_refusal(carl, NOW) is None
    carl.contract_end = NOW + timedelta(days=1)
    assert contract_refusal(carl, NOW) is None
    carl.contract_end = NOW
    assert contract_refusal(carl, NOW) == (
        "the contract of 'carl' ended on 2026-11-25: recovery is refused; the sponsor "
        "extends the contract in the directory first"
    )


def test_only_an_owner_may_request_a_shared_account() -> None:
    team = Subject(id="team", display_name="Team", kind=SubjectKind.SHARED, owners=("ana", "bo"))
    assert owner_refusal(team, "ana") is None
    assert owner_refusal(team, "eve") == (
        "only an owner of shared account 'team' may request its recovery (owners: ana, bo)"
    )
    assert "no owner" in (
        owner_refusal(Subject(id="t", display_name="T", kind=SubjectKind.SHARED), "ana") or ""
    )
    assert owner_refusal(Subject(id="p", display_name="P"), "eve") is None
