"""Separation of duties, enforced by the domain on every decision.

R-32: dual authorization; a privileged case stays pending until a second,
distinct person approves, and nobody approves their own request or recovery.
R-33: duties are separated; one person never both approves and executes, nor
approves twice through two roles or two operator records.
R-34: an operator may start a reset but never sets or learns the password; the
case and its events carry no secret.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from state_now import state_now

from custos.domain import sod
from custos.domain.errors import (
    AlreadyDecided,
    DomainError,
    InvalidInput,
    NotAuthorized,
    OutOfScope,
    SeparationOfDuties,
)
from custos.domain.events import EventType, Outcome
from custos.domain.model import (
    Case,
    Channel,
    CredentialAction,
    Operator,
    Requirements,
    RiskAssessment,
    Role,
    Subject,
)
from custos.domain.states import CaseState

T0 = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)
SUBJECT = Subject(id="alice", display_name="Alice", groups=frozenset({"staff"}))


BASE_REQUIREMENTS = Requirements(
    tier="privileged",
    action=CredentialAction.RESET_TOKEN,
    channels=frozenset({Channel.HELPDESK}),
    factors=1,
    methods=frozenset({"totp", "webauthn"}),
    phishing_resistant=False,
    approvals=1,
    approver_groups=frozenset(),
    approval_expiry=timedelta(hours=4),
    token_ttl=timedelta(minutes=15),
    post_checks=("read_back",),
    required_targets=None,
    case_ttl=timedelta(hours=24),
    max_proofing_failures=3,
    policy_hash="sha256:test",
    policy_version=1,
    risk_band="low",
)


def requirements(**overrides: Any) -> Requirements:
    return dataclasses.replace(BASE_REQUIREMENTS, **overrides)


def make_case(
    state: CaseState = CaseState.AWAITING_APPROVAL,
    *,
    requester: Operator | None = None,
    **req_overrides: Any,
) -> Case:
    requester = requester or HELPDESK
    return Case(
        id="case-1",
        subject_id=SUBJECT.id,
        channel=Channel.HELPDESK,
        reason="forgot password",
        state=state,
        opened_at=T0,
        updated_at=T0,
        expires_at=T0 + timedelta(hours=24),
        requirements=requirements(**req_overrides),
        risk=RiskAssessment(score=10, band="low", reasons=()),
        requested_by=requester.actor,
        requester_person=requester.person,
    )


def operator(
    id_: str,
    *roles: Role,
    person: str | None = None,
    scope: frozenset[str] = frozenset({"staff"}),
    groups: frozenset[str] = frozenset(),
) -> Operator:
    return Operator(
        id=id_,
        name=id_,
        person=person or id_,
        roles=frozenset(roles),
        scope=scope,
        groups=groups,
    )


HELPDESK = operator("hd", Role.REQUESTER)
BOB = operator("bob", Role.APPROVER)
CAROL = operator("carol", Role.APPROVER)
EVE = operator("eve", Role.EXECUTOR)


# -- requester ------------------------------------------------------------------


def test_requester_cannot_approve_own_request() -> None:
    """R-32: self-approval is refused even when the requester holds the approver role."""
    both = operator("dave", Role.REQUESTER, Role.APPROVER)
    case = make_case(requester=both)
    with pytest.raises(SeparationOfDuties) as caught:
        case.approve(both, SUBJECT, at=T0, reason="ok")
    assert caught.value.error_id == "sod_violation"
    assert case.approvals == []
    assert case.state == CaseState.AWAITING_APPROVAL
    assert case.pending_events == []


def test_requester_cannot_approve_through_another_operator_record() -> None:
    """R-32, R-33: SoD compares persons, so a second record of the requester is refused."""
    alt = operator("hd-approver", Role.APPROVER, person=HELPDESK.person)
    case = make_case()
    with pytest.raises(SeparationOfDuties):
        case.approve(alt, SUBJECT, at=T0, reason="ok")
    assert case.state == CaseState.AWAITING_APPROVAL


# -- executor ------------------------------------------------------------------------


def test_executor_cannot_approve() -> None:
    """R-33: the person recorded as executor may not approve the case."""
    case = make_case()
    case.executor_person = "carol"
    with pytest.raises(SeparationOfDuties):
        case.approve(CAROL, SUBJECT, at=T0, reason="ok")
    assert case.approvals == []
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    assert case.state == CaseState.APPROVED


def test_approver_cannot_execute() -> None:
    """R-33: one person never both approves and executes."""
    both = operator("frank", Role.APPROVER, Role.EXECUTOR)
    case = make_case()
    case.approve(both, SUBJECT, at=T0, reason="ok")
    assert case.state == CaseState.APPROVED
    with pytest.raises(SeparationOfDuties):
        case.issue_credential(both, SUBJECT, at=T0)
    assert case.state == CaseState.APPROVED
    assert case.executed_by is None and case.executor_person is None


def test_approver_cannot_execute_through_another_operator_record() -> None:
    """R-33: a second operator record of an approver counts as the same person."""
    case = make_case()
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    bob_exec = operator("bob-exec", Role.EXECUTOR, person="bob")
    with pytest.raises(SeparationOfDuties):
        case.issue_credential(bob_exec, SUBJECT, at=T0)
    assert case.state == CaseState.APPROVED


def test_distinct_executor_issues_credential_and_is_recorded() -> None:
    """R-33: a third person executes; the case records who did it."""
    case = make_case()
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    case.issue_credential(EVE, SUBJECT, at=T0)
    assert case.state == CaseState.CREDENTIAL_ISSUED
    assert case.executed_by == EVE.actor
    assert case.executor_person == "eve"


# -- the subject ---------------------------------------------------------------------


SELF = operator("alice-op", Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, person=SUBJECT.id)


def test_subject_cannot_request_own_recovery_as_operator() -> None:
    """R-32: an operator whose person is the subject may not open their own case."""
    with pytest.raises(SeparationOfDuties):
        sod.check_requester(SELF, SUBJECT)
    sod.check_requester(HELPDESK, SUBJECT)  # a different person may


def test_subject_cannot_approve_own_recovery() -> None:
    """R-32: the subject never approves their own case."""
    case = make_case()
    with pytest.raises(SeparationOfDuties):
        case.approve(SELF, SUBJECT, at=T0, reason="it is me")
    assert case.approvals == []


def test_subject_cannot_execute_own_recovery() -> None:
    """R-33: the subject never executes their own case."""
    case = make_case(CaseState.APPROVED)
    with pytest.raises(SeparationOfDuties):
        case.issue_credential(SELF, SUBJECT, at=T0)
    assert case.state == CaseState.APPROVED


def test_subject_cannot_cancel_own_recovery() -> None:
    """R-32: the subject never cancels their own case, whatever roles they hold;
    another requester in scope may."""
    admin_self = operator("alice-admin", Role.ADMIN, person=SUBJECT.id, scope=frozenset({"*"}))
    for self_operator in (SELF, admin_self):
        with pytest.raises(SeparationOfDuties) as caught:
            sod.check_canceller(self_operator, SUBJECT)
        assert caught.value.error_id == "sod_violation"
    sod.check_canceller(HELPDESK, SUBJECT)
    with pytest.raises(NotAuthorized):
        sod.check_canceller(BOB, SUBJECT)
    with pytest.raises(OutOfScope):
        sod.check_canceller(operator("r", Role.REQUESTER, scope=frozenset({"ops"})), SUBJECT)


def test_subject_cannot_act_through_admin_role() -> None:
    """R-32, R-33: admin satisfies the role check, never the subject rule."""
    admin_self = operator("alice-admin", Role.ADMIN, person=SUBJECT.id, scope=frozenset({"*"}))
    with pytest.raises(SeparationOfDuties):
        sod.check_requester(admin_self, SUBJECT)
    with pytest.raises(SeparationOfDuties):
        make_case().approve(admin_self, SUBJECT, at=T0, reason="ok")
    with pytest.raises(SeparationOfDuties):
        make_case(CaseState.APPROVED).issue_credential(admin_self, SUBJECT, at=T0)


# -- quorum --------------------------------------------------------------------------


def test_same_person_two_records_counts_once() -> None:
    """R-33: one person counts once in a quorum, whatever record or role they use."""
    bob_admin = operator("bob-admin", Role.ADMIN, person="bob")
    case = make_case(approvals=2)
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    with pytest.raises(SeparationOfDuties):
        case.approve(bob_admin, SUBJECT, at=T0, reason="ok again")
    assert [a.person for a in case.approvals] == ["bob"]
    assert case.state == CaseState.AWAITING_APPROVAL
    assert not case.quorum_met()


def test_same_operator_cannot_approve_twice() -> None:
    """R-32: approving twice with the same record is refused."""
    case = make_case(approvals=2)
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    with pytest.raises(SeparationOfDuties):
        case.approve(BOB, SUBJECT, at=T0, reason="ok")
    assert len(case.approvals) == 1


def test_quorum_of_two_needs_two_distinct_persons() -> None:
    """R-32: pending after the first approval, approved only after a second person."""
    case = make_case(approvals=2)
    case.approve(BOB, SUBJECT, at=T0, reason="looks right")
    assert case.state == CaseState.AWAITING_APPROVAL
    assert not case.quorum_met()
    first = case.pending_events[-1]
    assert first.type == EventType.CASE_APPROVED
    assert first.data == {"approvals": 1, "required": 2}

    later = T0 + timedelta(minutes=5)
    case.approve(CAROL, SUBJECT, at=later, reason="agreed")
    assert state_now(case) == CaseState.APPROVED
    assert case.quorum_met()
    assert {a.person for a in case.approvals} == {"bob", "carol"}
    assert [e.type for e in case.pending_events] == [
        EventType.CASE_APPROVED,
        EventType.CASE_APPROVED,
        EventType.CASE_STATE_CHANGED,
    ]
    assert case.pending_events[-1].data == {"from": "awaiting_approval", "to": "approved"}
    assert case.updated_at == later


def test_approve_after_quorum_is_already_decided() -> None:
    """R-32: once approved, further approvals are refused rather than counted."""
    case = make_case()
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    with pytest.raises(AlreadyDecided):
        case.approve(CAROL, SUBJECT, at=T0, reason="ok")
    assert len(case.approvals) == 1


# -- scope and roles ---------------------------------------------------------------------


def test_operator_outside_scope_gets_out_of_scope() -> None:
    """R-32: an approver acts only on subjects in their scope."""
    outsider = operator("olga", Role.APPROVER, scope=frozenset({"contractors"}))
    case = make_case()
    with pytest.raises(OutOfScope) as caught:
        case.approve(outsider, SUBJECT, at=T0, reason="ok")
    assert caught.value.error_id == "out_of_scope"
    assert caught.value.details == {"subject": SUBJECT.id}
    with pytest.raises(OutOfScope):
        sod.check_requester(operator("r", Role.REQUESTER, scope=frozenset()), SUBJECT)
    with pytest.raises(OutOfScope):
        make_case(CaseState.APPROVED).issue_credential(
            operator("x", Role.EXECUTOR, scope=frozenset({"ops"})), SUBJECT, at=T0
        )


def test_wildcard_scope_covers_every_subject() -> None:
    """R-32: '*' scope covers any subject, SoD still applies."""
    global_approver = operator("gina", Role.APPROVER, scope=frozenset({"*"}))
    case = make_case()
    case.approve(global_approver, SUBJECT, at=T0, reason="ok")
    assert case.state == CaseState.APPROVED


def test_missing_role_gets_not_authorized() -> None:
    """R-33: each duty needs its own role."""
    with pytest.raises(NotAuthorized) as caught:
        make_case().approve(EVE, SUBJECT, at=T0, reason="ok")
    assert caught.value.error_id == "not_authorized"
    assert caught.value.details == {"role": "approver"}
    with pytest.raises(NotAuthorized):
        make_case(CaseState.APPROVED).issue_credential(BOB, SUBJECT, at=T0)
    with pytest.raises(NotAuthorized):
        sod.check_requester(BOB, SUBJECT)


def test_inactive_operator_gets_not_authorized() -> None:
    """R-33: a disabled operator record holds no role, admin included."""
    retired = dataclasses.replace(operator("ray", Role.APPROVER, Role.ADMIN), active=False)
    with pytest.raises(NotAuthorized):
        make_case().approve(retired, SUBJECT, at=T0, reason="ok")


def test_admin_role_satisfies_role_checks() -> None:
    """R-33: admin stands in for any role."""
    admin = operator("ada", Role.ADMIN)
    assert all(admin.has_role(role) for role in Role)
    sod.check_requester(admin, SUBJECT)
    case = make_case()
    case.approve(admin, SUBJECT, at=T0, reason="ok")
    assert case.state == CaseState.APPROVED


def test_admin_role_does_not_bypass_separation_of_duties() -> None:
    """R-32, R-33: an admin who requested cannot approve; one who approved cannot execute."""
    admin = operator("ada", Role.ADMIN)
    requested = make_case(requester=admin)
    with pytest.raises(SeparationOfDuties):
        requested.approve(admin, SUBJECT, at=T0, reason="ok")

    approved = make_case()
    approved.approve(admin, SUBJECT, at=T0, reason="ok")
    with pytest.raises(SeparationOfDuties):
        approved.issue_credential(admin, SUBJECT, at=T0)
    assert approved.state == CaseState.APPROVED


# -- approver groups -------------------------------------------------------------------


def test_approver_groups_refuse_operator_outside_groups() -> None:
    """R-32: a tier's approvals must come from its approver groups."""
    case = make_case(approver_groups=frozenset({"security-approvers"}))
    with pytest.raises(NotAuthorized) as caught:
        case.approve(BOB, SUBJECT, at=T0, reason="ok")
    assert "security-approvers" in caught.value.message
    assert case.approvals == []


def test_approver_groups_accept_member_of_any_listed_group() -> None:
    """R-32: membership of one listed group is enough."""
    member = operator("sam", Role.APPROVER, groups=frozenset({"iam-leads", "other"}))
    case = make_case(approver_groups=frozenset({"security-approvers", "iam-leads"}))
    case.approve(member, SUBJECT, at=T0, reason="ok")
    assert case.state == CaseState.APPROVED


def test_approver_groups_apply_to_admins_too() -> None:
    """R-32: admin satisfies the role, not the tier's group requirement."""
    admin = operator("ada", Role.ADMIN)
    case = make_case(approver_groups=frozenset({"security-approvers"}))
    with pytest.raises(NotAuthorized):
        case.approve(admin, SUBJECT, at=T0, reason="ok")


# -- deny ---------------------------------------------------------------------------


def test_deny_needs_a_reason() -> None:
    """R-32: a denial is a decision and must say why."""
    case = make_case()
    with pytest.raises(InvalidInput) as caught:
        case.deny(BOB, SUBJECT, at=T0, reason="   ")
    assert caught.value.error_id == "invalid_input"
    assert case.state == CaseState.AWAITING_APPROVAL


def test_deny_needs_an_approver() -> None:
    """R-32, R-33: only an approver (not the requester, not the subject) may deny."""
    case = make_case()
    with pytest.raises(NotAuthorized):
        case.deny(HELPDESK, SUBJECT, at=T0, reason="no")
    with pytest.raises(SeparationOfDuties):
        case.deny(SELF, SUBJECT, at=T0, reason="no")
    both = operator("dave", Role.REQUESTER, Role.APPROVER)
    own = make_case(requester=both)
    with pytest.raises(SeparationOfDuties):
        own.deny(both, SUBJECT, at=T0, reason="no")
    assert case.state == own.state == CaseState.AWAITING_APPROVAL


def test_deny_by_approver_moves_to_denied_with_reason() -> None:
    """R-32: a valid denial ends the case and records who and why."""
    case = make_case()
    case.deny(BOB, SUBJECT, at=T0, reason="caller failed callback")
    assert case.state == CaseState.DENIED
    assert case.outcome_reason == "caller failed callback"
    event = case.pending_events[-1]
    assert event.actor == BOB.actor
    assert event.outcome == Outcome.DENIED
    assert event.reason == "caller failed callback"


# -- no secret (R-34) -----------------------------------------------------------------


def test_case_and_events_carry_no_secret() -> None:
    """R-34: issuing a credential records the action, never a password or token."""
    case = make_case()
    case.approve(BOB, SUBJECT, at=T0, reason="ok")
    case.issue_credential(EVE, SUBJECT, at=T0)
    fields = {f.name for f in dataclasses.fields(Case)}
    assert not {f for f in fields if any(w in f for w in ("password", "secret", "token"))}
    text = json.dumps([e.canonical() for e in case.pending_events])
    assert "password" not in text.lower()
    assert case.pending_events[-1].reason == str(CredentialAction.RESET_TOKEN)


# -- what each refusal says ---------------------------------------------------------------


def test_each_refusal_names_the_rule_it_applies() -> None:
    """R-32, R-33: every refusal says which rule stopped the operator (the API and
    the CLI show this text), with the details the error contract carries; a
    separation-of-duties refusal names its rule there (the console words it)."""
    both = operator("dave", Role.REQUESTER, Role.APPROVER)
    outsider = operator("olga", Role.APPROVER, scope=frozenset({"contractors"}))
    alice_op = operator("al", Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, person="alice")
    ivan = operator("ivan", Role.APPROVER, Role.EXECUTOR)
    executed = make_case()
    executed.executor_person = "ivan"
    approved_by_bob = make_case(approver_groups=frozenset({"sec", "iam"}))
    approved_by_bob.approve(
        operator("bob", Role.APPROVER, groups=frozenset({"sec"})), SUBJECT, at=T0, reason="ok"
    )
    other = Subject(id="mallory", display_name="Mallory", groups=frozenset({"staff"}))
    cases: list[tuple[Callable[[], object], type[DomainError], str, dict[str, object]]] = [
        (
            lambda: sod.check_role(EVE, Role.APPROVER),
            NotAuthorized,
            "operator 'eve' lacks the 'approver' role",
            {"role": "approver"},
        ),
        (
            lambda: sod.check_scope(outsider, SUBJECT),
            OutOfScope,
            "subject 'alice' is outside the scope of operator 'olga'",
            {"subject": "alice"},
        ),
        (
            lambda: sod.check_not_subject(alice_op, SUBJECT),
            SeparationOfDuties,
            "an operator cannot act on their own recovery case",
            {"rule": "own_case"},
        ),
        (
            lambda: sod.check_subject_of(make_case(), other),
            NotAuthorized,
            "subject 'mallory' is not the subject of case case-1",
            {},
        ),
        (
            lambda: sod.check_approver(make_case(requester=both), both, SUBJECT),
            SeparationOfDuties,
            "the requester of a case cannot approve it (R-32)",
            {"rule": "requester"},
        ),
        (
            lambda: sod.check_approver(executed, ivan, SUBJECT),
            SeparationOfDuties,
            "the executor of a case cannot approve it (R-33)",
            {"rule": "executor"},
        ),
        (
            lambda: sod.check_approver(
                approved_by_bob,
                operator("bob2", Role.APPROVER, person="bob", groups=frozenset({"sec"})),
                SUBJECT,
            ),
            SeparationOfDuties,
            "this person has already approved the case; one person counts once (R-33)",
            {"rule": "already_approved"},
        ),
        (
            lambda: sod.check_approver(approved_by_bob, CAROL, SUBJECT),
            NotAuthorized,
            "approvals for tier 'privileged' must come from: iam, sec",
            {"rule": "approver_groups", "groups": ["iam", "sec"]},
        ),
        (
            lambda: sod.check_executor(approved_by_bob, operator("bob", Role.EXECUTOR), SUBJECT),
            SeparationOfDuties,
            "an approver of a case cannot execute it (R-33)",
            {"rule": "approver_executes"},
        ),
    ]
    for call, error, message, details in cases:
        with pytest.raises(error) as caught:
            call()
        assert caught.value.message == message
        assert caught.value.details == details


def test_owner_who_asked_cannot_approve_shared_account_request() -> None:
    """R-32: the owner the help desk asked for (``on_behalf_of``) is the real
    requester of a shared account's case: as an approver they are refused."""
    owner = operator("ana-op", Role.APPROVER, person="ana")
    case = dataclasses.replace(make_case(), on_behalf_of="ana")
    with pytest.raises(SeparationOfDuties) as caught:
        case.approve(owner, SUBJECT, at=T0, reason="my own team account")
    assert caught.value.details["rule"] == "requester"
    assert case.approvals == []


def test_another_person_approves_a_shared_account_request() -> None:
    """R-32: only the owner who asked is refused: any other approver in scope
    approves the shared account's case, and the refusal of the owner says why."""
    case = dataclasses.replace(make_case(), on_behalf_of="ana")
    owner = operator("ana-op", Role.APPROVER, person="ana")
    with pytest.raises(SeparationOfDuties) as caught:
        sod.check_approver(case, owner, SUBJECT)
    assert caught.value.message == (
        "the owner who asked for a shared account's recovery cannot approve it (R-32)"
    )
    assert caught.value.details == {"rule": "requester"}
    sod.check_approver(case, operator("bo-op", Role.APPROVER, person="bo"), SUBJECT)
