"""A recovery case from proofing to credential issue: proofing rules, expiry,
cancellation, and the domain event appended for every change (R-35)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from state_now import state_now

from custos.domain.errors import (
    AlreadyDecided,
    CaseExpired,
    IllegalTransition,
    InvalidInput,
    ProofingIncomplete,
)
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import (
    SYSTEM_ACTOR,
    Case,
    Channel,
    CredentialAction,
    Operator,
    ProofRecord,
    Requirements,
    RiskAssessment,
    Role,
    Subject,
    expiry_for,
)
from custos.domain.recovery_rules import ProofKind
from custos.domain.states import CaseState

T0 = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
SUBJECT = Subject(id="alice", display_name="Alice", groups=frozenset({"staff"}))
APPROVER = Operator(
    id="bob", name="Bob", person="bob", roles=frozenset({Role.APPROVER}), scope=frozenset({"*"})
)
EXECUTOR = Operator(
    id="eve", name="Eve", person="eve", roles=frozenset({Role.EXECUTOR}), scope=frozenset({"*"})
)

BASE_REQUIREMENTS = Requirements(
    tier="standard",
    action=CredentialAction.RESET_TOKEN,
    channels=frozenset({Channel.SELF_SERVICE, Channel.HELPDESK}),
    factors=1,
    methods=frozenset({"totp", "webauthn", "recovery_code", "email_code"}),
    phishing_resistant=False,
    approvals=0,
    approver_groups=frozenset(),
    approval_expiry=timedelta(hours=4),
    token_ttl=timedelta(minutes=15),
    post_checks=("read_back", "sessions_revoked"),
    required_targets=None,
    case_ttl=timedelta(hours=24),
    max_proofing_failures=3,
    policy_hash="sha256:test",
    policy_version=1,
    risk_band="low",
)


def make_case(state: CaseState = CaseState.PROOFING, **req_overrides: Any) -> Case:
    req = dataclasses.replace(BASE_REQUIREMENTS, **req_overrides)
    return Case(
        id="case-1",
        subject_id=SUBJECT.id,
        channel=Channel.HELPDESK,
        reason="forgot password",
        state=state,
        opened_at=T0,
        updated_at=T0,
        expires_at=expiry_for(T0, req),
        requirements=req,
        risk=RiskAssessment(score=10, band="low", reasons=()),
        requested_by="operator:hd",
        requester_person="hd",
    )


def proof(
    method: str = "totp",
    *,
    passed: bool = True,
    minutes: int = 1,
    phishing_resistant: bool = False,
) -> ProofRecord:
    return ProofRecord(
        method=method,
        passed=passed,
        at=T0 + timedelta(minutes=minutes),
        actor="subject:alice",
        phishing_resistant=phishing_resistant,
    )


def state_changes(case: Case) -> list[DomainEvent]:
    return [e for e in case.pending_events if e.type == EventType.CASE_STATE_CHANGED]


# -- proofing ------------------------------------------------------------------------


def test_record_proof_moves_to_awaiting_approval_when_approvals_required() -> None:
    case = make_case(approvals=1)
    assert case.expires_at == T0 + timedelta(hours=24)
    case.record_proof(proof(minutes=10))
    assert case.state == CaseState.AWAITING_APPROVAL
    # The approval window replaces the (longer) case lifetime.
    assert case.expires_at == T0 + timedelta(minutes=10) + timedelta(hours=4)
    assert [e.type for e in case.pending_events] == [
        EventType.PROOFING_ATTEMPTED,
        EventType.PROOFING_SATISFIED,
        EventType.CASE_STATE_CHANGED,
    ]
    assert case.pending_events[-1].data == {"from": "proofing", "to": "awaiting_approval"}


def test_record_proof_never_extends_expiry_beyond_case_lifetime() -> None:
    case = make_case(approvals=1, case_ttl=timedelta(hours=1))
    case.record_proof(proof(minutes=30))
    assert case.state == CaseState.AWAITING_APPROVAL
    assert case.expires_at == T0 + timedelta(hours=1)


def test_record_proof_moves_to_approved_when_no_approval_required() -> None:
    case = make_case(approvals=0)
    case.record_proof(proof())
    assert case.state == CaseState.APPROVED
    assert case.expires_at == T0 + timedelta(hours=24)
    last = case.pending_events[-1]
    assert last.data == {"from": "proofing", "to": "approved"}
    assert last.reason == "tier requires no approval"
    assert last.actor == SYSTEM_ACTOR


def test_record_proof_two_factors_need_two_distinct_methods() -> None:
    case = make_case(factors=2)
    case.record_proof(proof("totp", minutes=1))
    case.record_proof(proof("totp", minutes=2))
    assert case.state == CaseState.PROOFING
    assert not case.proofing_satisfied()
    assert case.passed_methods() == {"totp"}
    case.record_proof(proof("email_code", minutes=3))
    assert state_now(case) == CaseState.APPROVED
    satisfied = [e for e in case.pending_events if e.type == EventType.PROOFING_SATISFIED]
    assert [e.data for e in satisfied] == [{"methods": ["email_code", "totp"]}]


def test_record_proof_failed_method_does_not_count_as_factor() -> None:
    case = make_case(factors=2)
    case.record_proof(proof("totp"))
    case.record_proof(proof("email_code", passed=False))
    assert case.state == CaseState.PROOFING
    assert case.passed_methods() == {"totp"}


def test_record_proof_phishing_resistant_requirement_needs_such_a_proof() -> None:
    case = make_case(phishing_resistant=True)
    case.record_proof(proof("totp"))
    assert case.state == CaseState.PROOFING
    case.record_proof(proof("webauthn", phishing_resistant=True, minutes=2))
    assert state_now(case) == CaseState.APPROVED


def test_record_proof_failures_reaching_limit_deny_the_case() -> None:
    case = make_case(max_proofing_failures=3)
    case.record_proof(proof(passed=False, minutes=1))
    case.record_proof(proof(passed=False, minutes=2))
    assert case.state == CaseState.PROOFING
    assert case.proofing_failures() == 2
    case.record_proof(proof(passed=False, minutes=3))
    assert state_now(case) == CaseState.DENIED
    assert case.outcome_reason == "too many failed proofing attempts"
    denial = state_changes(case)[-1]
    assert denial.outcome == Outcome.DENIED
    assert denial.data == {"from": "proofing", "to": "denied"}
    attempts = [e for e in case.pending_events if e.type == EventType.PROOFING_ATTEMPTED]
    assert [e.outcome for e in attempts] == [Outcome.FAILURE] * 3


def test_record_proof_pass_after_failures_still_succeeds_below_limit() -> None:
    case = make_case(max_proofing_failures=3)
    case.record_proof(proof(passed=False, minutes=1))
    case.record_proof(proof(passed=False, minutes=2))
    case.record_proof(proof(passed=True, minutes=3))
    assert case.state == CaseState.APPROVED


def test_record_proof_method_outside_tier_raises_invalid_input() -> None:
    case = make_case(methods=frozenset({"webauthn"}))
    with pytest.raises(InvalidInput) as caught:
        case.record_proof(proof("totp"))
    assert caught.value.error_id == "invalid_input"
    assert caught.value.details == {"allowed": ["webauthn"]}
    assert case.proofs == []
    assert case.pending_events == []
    assert case.state == CaseState.PROOFING


def test_record_proof_outside_proofing_raises_already_decided() -> None:
    case = make_case(CaseState.AWAITING_APPROVAL)
    with pytest.raises(AlreadyDecided):
        case.record_proof(proof())
    assert case.proofs == []


# -- issuing the credential -------------------------------------------------------------


@pytest.mark.parametrize("state", [CaseState.PROOFING, CaseState.AWAITING_APPROVAL])
def test_issue_credential_before_approval_raises_proofing_incomplete(state: CaseState) -> None:
    case = make_case(state)
    with pytest.raises(ProofingIncomplete) as caught:
        case.issue_credential(EXECUTOR, SUBJECT, at=T0)
    assert caught.value.error_id == "proofing_incomplete"
    assert case.state == state
    assert case.executed_at is None


@pytest.mark.parametrize("state", [CaseState.DENIED, CaseState.CREDENTIAL_ISSUED])
def test_issue_credential_after_decision_raises_already_decided(state: CaseState) -> None:
    case = make_case(state)
    with pytest.raises(AlreadyDecided):
        case.issue_credential(EXECUTOR, SUBJECT, at=T0)
    assert case.state == state


def test_issue_credential_sets_expiry_to_token_lifetime() -> None:
    case = make_case(CaseState.APPROVED, token_ttl=timedelta(minutes=10))
    at = T0 + timedelta(hours=2)
    case.issue_credential(EXECUTOR, SUBJECT, at=at)
    assert case.state == CaseState.CREDENTIAL_ISSUED
    assert case.expires_at == at + timedelta(minutes=10)
    assert case.executed_at == at
    assert case.executed_by == EXECUTOR.actor
    last = case.pending_events[-1]
    assert last.actor == EXECUTOR.actor
    assert last.reason == "reset_token"


def test_issue_credential_without_executor_is_done_by_system() -> None:
    case = make_case(CaseState.APPROVED)
    case.issue_credential(None, SUBJECT, at=T0)
    assert case.state == CaseState.CREDENTIAL_ISSUED
    assert case.executed_by == SYSTEM_ACTOR
    assert case.executor_person is None


# -- expiry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        CaseState.PROOFING,
        CaseState.AWAITING_APPROVAL,
        CaseState.APPROVED,
        CaseState.CREDENTIAL_ISSUED,
    ],
)
def test_ensure_live_expires_open_case_past_expiry(state: CaseState) -> None:
    case = make_case(state)
    late = case.expires_at + timedelta(seconds=1)
    with pytest.raises(CaseExpired) as caught:
        case.ensure_live(late)
    assert caught.value.error_id == "case_expired"
    assert case.state == CaseState.EXPIRED
    assert case.outcome_reason == "case lifetime ran out"
    event = state_changes(case)[-1]
    assert event.outcome == Outcome.FAILURE
    assert event.actor == SYSTEM_ACTOR
    assert event.occurred_at == late


def test_ensure_live_leaves_opened_case_alone_past_expiry() -> None:
    """'opened' is transient (opening moves the case on in the same transaction),
    so it is not a state that expires: ensure_live neither raises nor moves it."""
    case = make_case(CaseState.OPENED)
    late = case.expires_at + timedelta(seconds=1)
    assert not case.is_expired(late)
    case.ensure_live(late)
    assert case.state == CaseState.OPENED


def test_ensure_live_keeps_case_at_or_before_expiry_boundary() -> None:
    case = make_case(CaseState.AWAITING_APPROVAL)
    case.ensure_live(case.expires_at - timedelta(microseconds=1))
    assert case.state == CaseState.AWAITING_APPROVAL
    assert case.pending_events == []
    # The boundary itself is already too late.
    with pytest.raises(CaseExpired):
        case.ensure_live(case.expires_at)


@pytest.mark.parametrize(
    "state", [CaseState.EXECUTING, CaseState.VERIFYING, CaseState.NEEDS_ATTENTION]
)
def test_ensure_live_leaves_in_flight_case_alone(state: CaseState) -> None:
    case = make_case(state)
    late = case.expires_at + timedelta(days=7)
    assert not case.is_expired(late)
    case.ensure_live(late)
    assert case.state == state
    assert case.pending_events == []


def test_ensure_live_leaves_blocked_case_alone_while_hold_stands() -> None:
    """R-32: a case blocked by a hold waits for break-glass, however long the hold
    stands; it is never expired under the hold."""
    case = make_case(CaseState.BLOCKED, tier="frozen", action=CredentialAction.BLOCK)
    late = case.expires_at + timedelta(days=365)
    assert not case.is_expired(late)
    case.ensure_live(late)
    assert case.state == CaseState.BLOCKED
    assert case.pending_events == []


# -- cancel ------------------------------------------------------------------------------


def test_cancel_needs_a_reason() -> None:
    case = make_case()
    with pytest.raises(InvalidInput):
        case.cancel("operator:hd", at=T0, reason=" \t")
    assert case.state == CaseState.PROOFING
    assert case.pending_events == []


def test_cancel_with_reason_moves_to_cancelled() -> None:
    case = make_case()
    case.cancel("operator:hd", at=T0, reason="caller hung up")
    assert case.state == CaseState.CANCELLED
    assert case.outcome_reason == "caller hung up"
    event = state_changes(case)[-1]
    assert (event.actor, event.reason, event.outcome) == (
        "operator:hd",
        "caller hung up",
        Outcome.SUCCESS,
    )


@pytest.mark.parametrize("state", [CaseState.COMPLETED, CaseState.EXECUTING])
def test_cancel_from_state_without_cancel_move_is_illegal(state: CaseState) -> None:
    case = make_case(state)
    with pytest.raises(IllegalTransition):
        case.cancel("operator:hd", at=T0, reason="too late")
    assert case.state == state


# -- events ----------------------------------------------------------------------------


def test_every_change_appends_an_event_with_json_canonical_form() -> None:
    case = make_case(approvals=1)
    case.record_proof(proof(passed=False, minutes=1))
    case.record_proof(proof(minutes=2))
    case.approve(APPROVER, SUBJECT, at=T0 + timedelta(minutes=3), reason="ok")
    case.issue_credential(EXECUTOR, SUBJECT, at=T0 + timedelta(minutes=4))
    for to in (CaseState.EXECUTING, CaseState.VERIFYING):
        case.move(to, at=T0 + timedelta(minutes=5), actor=SYSTEM_ACTOR)
    case.validated(at=T0 + timedelta(minutes=6), by=SYSTEM_ACTOR, checks=["read_back"])
    assert case.state == CaseState.COMPLETED

    transitions = [(e.data["from"], e.data["to"]) for e in state_changes(case)]
    assert transitions == [
        ("proofing", "awaiting_approval"),
        ("awaiting_approval", "approved"),
        ("approved", "credential_issued"),
        ("credential_issued", "executing"),
        ("executing", "verifying"),
        ("verifying", "completed"),
    ]
    for event in case.pending_events:
        record = event.canonical()
        assert json.loads(json.dumps(record)) == record
        assert set(record) == {
            "type",
            "time",
            "source",
            "actor",
            "subject",
            "case",
            "outcome",
            "reason",
            "data",
        }
        assert isinstance(record["time"], str) and record["time"].endswith("Z")
        assert record["case"] == "case-1"
        assert record["subject"] == "alice"
        assert str(record["type"]).count(":") == 2


def test_event_time_is_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    case = make_case()
    case.cancel("operator:hd", at=datetime(2025, 3, 12, 12, 0, tzinfo=plus_two), reason="dup")
    assert case.pending_events[-1].canonical()["time"] == "2025-03-12T10:00:00.000000Z"


@pytest.mark.parametrize(
    ("target", "outcome"),
    [
        (CaseState.DENIED, Outcome.DENIED),
        (CaseState.BLOCKED, Outcome.DENIED),
        (CaseState.EXPIRED, Outcome.FAILURE),
        (CaseState.AWAITING_APPROVAL, Outcome.SUCCESS),
        (CaseState.CANCELLED, Outcome.SUCCESS),
    ],
)
def test_state_change_event_outcome_follows_target_state(
    target: CaseState, outcome: Outcome
) -> None:
    case = make_case()
    case.move(target, at=T0, actor=SYSTEM_ACTOR, reason="because")
    event = case.pending_events[-1]
    assert event.type == EventType.CASE_STATE_CHANGED
    assert event.outcome == outcome
    assert event.canonical()["outcome"] == str(outcome)


def test_needs_attention_event_is_a_failure() -> None:
    case = make_case(CaseState.VERIFYING)
    case.move(CaseState.NEEDS_ATTENTION, at=T0, actor=SYSTEM_ACTOR, reason="read_back failed")
    assert case.pending_events[-1].outcome == Outcome.FAILURE


def test_blocked_case_records_reason_and_returns_only_to_approval() -> None:
    case = make_case()
    case.move(CaseState.BLOCKED, at=T0, actor="agent:fraud", reason="fraud flag")
    assert case.outcome_reason == "fraud flag"
    with pytest.raises(IllegalTransition):
        case.move(CaseState.APPROVED, at=T0, actor=SYSTEM_ACTOR)
    case.move(CaseState.AWAITING_APPROVAL, at=T0, actor=SYSTEM_ACTOR, reason="break-glass")
    assert case.state == CaseState.AWAITING_APPROVAL


def test_refused_move_appends_no_event_and_keeps_state() -> None:
    case = make_case()
    with pytest.raises(IllegalTransition):
        case.move(CaseState.COMPLETED, at=T0, actor=SYSTEM_ACTOR)
    assert case.state == CaseState.PROOFING
    assert case.updated_at == T0
    assert case.pending_events == []


# -- what each refusal and conclusion records --------------------------------------------


def test_refusals_say_what_is_wrong() -> None:
    """The messages the API and CLI show for an expired case, a decided case and a
    decision without a reason."""
    case = make_case(CaseState.AWAITING_APPROVAL)
    with pytest.raises(CaseExpired) as expired:
        case.ensure_live(case.expires_at)
    assert expired.value.message == "case case-1 expired at 2025-03-13T10:00:00+00:00"
    decided = make_case(CaseState.APPROVED)
    with pytest.raises(AlreadyDecided) as caught:
        decided.deny(APPROVER, SUBJECT, at=T0, reason="no")
    assert caught.value.message == "case case-1 is not awaiting approval (state 'approved')"
    with pytest.raises(InvalidInput) as no_reason:
        make_case(CaseState.AWAITING_APPROVAL).deny(APPROVER, SUBJECT, at=T0, reason=" ")
    assert no_reason.value.message == "a denial needs a reason"
    with pytest.raises(InvalidInput) as no_cancel_reason:
        make_case().cancel("operator:hd", at=T0, reason="")
    assert no_cancel_reason.value.message == "a cancellation needs a reason"


def test_denial_is_recorded_at_its_time() -> None:
    """R-35: the denial's event carries the time of the decision."""
    case = make_case(CaseState.AWAITING_APPROVAL)
    at = T0 + timedelta(minutes=7)
    case.deny(APPROVER, SUBJECT, at=at, reason="callback failed")
    event = state_changes(case)[-1]
    assert (event.occurred_at, event.actor, event.reason) == (at, APPROVER.actor, "callback failed")


def test_validated_records_who_checked_and_completes_the_case() -> None:
    """R-35: completion names the validator, the checks and the reason."""
    case = make_case(CaseState.VERIFYING)
    at = T0 + timedelta(minutes=9)
    case.validated(at=at, by="worker:w1", checks=["read_back", "sessions_revoked"])
    assert (case.state, case.validated_by, case.validated_at) == (
        CaseState.COMPLETED,
        "worker:w1",
        at,
    )
    moved, checked = case.pending_events[-2:]
    assert (moved.type, moved.actor, moved.reason, moved.occurred_at) == (
        EventType.CASE_STATE_CHANGED,
        "worker:w1",
        "post-recovery checks passed",
        at,
    )
    assert (checked.type, checked.actor, checked.data) == (
        EventType.CASE_VALIDATED,
        "worker:w1",
        {"checks": ["read_back", "sessions_revoked"]},
    )


def test_aal2_case_is_not_satisfied_by_one_code_even_at_one_factor() -> None:
    """R-2: at AAL2, one code alone is a step-up, not a recovery, whatever the
    factor count; a code and a bound authenticator complete it."""
    case = make_case(aal=2, factors=1)
    case.record_proof(
        ProofRecord(
            "email_code",
            True,
            T0 + timedelta(minutes=1),
            "subject:alice",
            False,
            ProofKind.ISSUED_CODE,
        )
    )
    assert not case.proofing_satisfied()
    assert case.state == CaseState.PROOFING
    case.record_proof(
        ProofRecord(
            "totp", True, T0 + timedelta(minutes=2), "subject:alice", False, ProofKind.AUTHENTICATOR
        )
    )
    assert case.proofing_satisfied()
    assert state_now(case) == CaseState.APPROVED


def test_proofing_and_approval_events_are_recorded_field_by_field() -> None:
    """R-35: who, when, what and why of each proofing attempt and approval."""
    case = make_case(approvals=1)
    at1, at2, at3 = (T0 + timedelta(minutes=m) for m in (1, 2, 3))
    case.record_proof(proof(passed=False, minutes=1))
    case.record_proof(proof("webauthn", minutes=2, phishing_resistant=True))
    case.approve(APPROVER, SUBJECT, at=at3, reason="called back")
    seen = [
        (e.type, e.occurred_at, e.actor, e.outcome, e.reason, e.data) for e in case.pending_events
    ]
    assert seen == [
        (
            EventType.PROOFING_ATTEMPTED,
            at1,
            "subject:alice",
            Outcome.FAILURE,
            "",
            {"method": "totp", "phishing_resistant": False},
        ),
        (
            EventType.PROOFING_ATTEMPTED,
            at2,
            "subject:alice",
            Outcome.SUCCESS,
            "",
            {"method": "webauthn", "phishing_resistant": True},
        ),
        (
            EventType.PROOFING_SATISFIED,
            at2,
            SYSTEM_ACTOR,
            Outcome.SUCCESS,
            "",
            {"methods": ["webauthn"]},
        ),
        (
            EventType.CASE_STATE_CHANGED,
            at2,
            SYSTEM_ACTOR,
            Outcome.SUCCESS,
            "",
            {"from": "proofing", "to": "awaiting_approval"},
        ),
        (
            EventType.CASE_APPROVED,
            at3,
            APPROVER.actor,
            Outcome.SUCCESS,
            "called back",
            {"approvals": 1, "required": 1},
        ),
        (
            EventType.CASE_STATE_CHANGED,
            at3,
            SYSTEM_ACTOR,
            Outcome.SUCCESS,
            "quorum met",
            {"from": "awaiting_approval", "to": "approved"},
        ),
    ]
    [approval] = case.approvals
    assert (approval.operator_id, approval.person, approval.decided_at, approval.reason) == (
        APPROVER.id,
        APPROVER.person,
        at3,
        "called back",
    )


def test_too_many_failures_deny_the_case_at_the_last_attempt() -> None:
    """R-18: the denial is the system's, at the time of the last failed attempt."""
    case = make_case(max_proofing_failures=2)
    case.record_proof(proof(passed=False, minutes=1))
    case.record_proof(proof(passed=False, minutes=4))
    event = state_changes(case)[-1]
    assert case.state == CaseState.DENIED
    assert (event.occurred_at, event.actor, event.reason) == (
        T0 + timedelta(minutes=4),
        SYSTEM_ACTOR,
        "too many failed proofing attempts",
    )


def test_no_approval_tier_approves_at_the_proof_time() -> None:
    case = make_case()
    case.record_proof(proof(minutes=3))
    event = state_changes(case)[-1]
    assert (event.occurred_at, event.actor, event.reason) == (
        T0 + timedelta(minutes=3),
        SYSTEM_ACTOR,
        "tier requires no approval",
    )


def test_wrong_state_refusals_name_the_case_and_state() -> None:
    with pytest.raises(AlreadyDecided) as not_proofing:
        make_case(CaseState.APPROVED).record_proof(proof())
    assert not_proofing.value.message == (
        "case case-1 is not collecting proofing evidence (state 'approved')"
    )
    with pytest.raises(AlreadyDecided) as not_waiting:
        make_case(CaseState.PROOFING).approve(APPROVER, SUBJECT, at=T0, reason="ok")
    assert not_waiting.value.message == "case case-1 is not awaiting approval (state 'proofing')"
    with pytest.raises(ProofingIncomplete) as early:
        make_case(CaseState.AWAITING_APPROVAL).issue_credential(EXECUTOR, SUBJECT, at=T0)
    assert early.value.message == "case case-1 is not approved yet (state 'awaiting_approval')"


def test_refusals_name_the_method_and_the_closed_state() -> None:
    with pytest.raises(InvalidInput) as method:
        make_case().record_proof(proof("sms_code"))
    assert method.value.message == "method 'sms_code' is not allowed by tier 'standard'"
    assert method.value.details == {"allowed": ["email_code", "recovery_code", "totp", "webauthn"]}
    with pytest.raises(AlreadyDecided) as closed:
        make_case(CaseState.COMPLETED).issue_credential(EXECUTOR, SUBJECT, at=T0)
    assert closed.value.message == "case case-1 cannot be executed (state 'completed')"
