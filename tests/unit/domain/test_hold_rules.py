"""The rules of holds (domain/holds.py) and what a hold does to a case
(Case.hold, Case.release): who sets and who lifts, the setter never lifts,
end times, and a held case going back where it stood."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_case_lifecycle import make_case

from custos.domain.errors import (
    HoldLiftBySetter,
    HoldNotStanding,
    IllegalTransition,
    InvalidInput,
    NotAuthorized,
    SeparationOfDuties,
)
from custos.domain.events import EventType
from custos.domain.holds import (
    BUILT_IN_KINDS,
    HoldRecord,
    HoldRules,
    HoldStatus,
    check_ends_at,
    check_kind,
    check_lifter,
    check_setter,
    may_lift,
    may_set,
)
from custos.domain.model import Operator, Role
from custos.domain.states import CaseState

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
RULES = HoldRules()


def operator(name: str, *roles: Role, groups: tuple[str, ...] = ()) -> Operator:
    return Operator(
        id=f"op-{name}",
        name=name,
        person=name,
        roles=frozenset(roles),
        scope=frozenset({"*"}),
        groups=frozenset(groups),
    )


ADA = operator("ada", Role.APPROVER, groups=("security-approvers",))
GRACE = operator("grace", Role.APPROVER, groups=("security-approvers",))
LINUS = operator("linus", Role.APPROVER)
HANA = operator("hana", Role.REQUESTER)
MARGARET = operator("margaret", Role.ADMIN)


def hold(**changes: object) -> HoldRecord:
    base = HoldRecord(
        id="hold-1",
        kind="legal_hold",
        subject_id="bob",
        group=None,
        reason="matter 12",
        ticket="LEG-1",
        set_by=ADA.actor,
        set_by_person=ADA.person,
        set_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_built_in_kinds_are_legal_hold_incident_freeze_and_fraud() -> None:
    assert {"legal_hold", "incident_freeze", "fraud"} == BUILT_IN_KINDS
    assert check_kind("fraud", RULES) == "fraud"
    with pytest.raises(InvalidInput) as unknown:
        check_kind("export_review", RULES)
    assert unknown.value.details["known"] == sorted(BUILT_IN_KINDS)
    extended = HoldRules(kinds=BUILT_IN_KINDS | {"export_review"})
    assert check_kind("export_review", extended) == "export_review"


def test_a_hold_stands_until_lifted_or_until_its_end_time() -> None:
    open_ended = hold()
    assert open_ended.stands(T0 + timedelta(days=3650))
    ending = hold(ends_at=T0 + timedelta(hours=2))
    assert ending.status(T0 + timedelta(hours=1)) == HoldStatus.STANDING
    # Read-time: the end time counts before any worker records it.
    assert ending.status(T0 + timedelta(hours=2)) == HoldStatus.EXPIRED
    assert not ending.stands(T0 + timedelta(hours=3))
    lifted = hold(lifted_at=T0 + timedelta(minutes=5), lifted_by=GRACE.actor)
    assert lifted.status(T0 + timedelta(minutes=6)) == HoldStatus.LIFTED
    recorded = hold(expired_at=T0)
    assert recorded.status(T0) == HoldStatus.EXPIRED


def test_looking_back_a_hold_stood_from_its_setting_until_it_ended() -> None:
    """What policy simulation asks of a hold about a case's moment."""
    lifted = hold(lifted_at=T0 + timedelta(hours=1), lifted_by=GRACE.actor)
    assert not lifted.stood_at(T0 - timedelta(seconds=1))
    assert lifted.stood_at(T0) and lifted.stood_at(T0 + timedelta(minutes=59))
    assert not lifted.stood_at(T0 + timedelta(hours=1))
    ending = hold(ends_at=T0 + timedelta(hours=2))
    assert ending.stood_at(T0 + timedelta(hours=1))
    assert not ending.stood_at(T0 + timedelta(hours=2))
    recorded = hold(expired_at=T0 + timedelta(minutes=30))
    assert recorded.stood_at(T0 + timedelta(minutes=29))
    assert not recorded.stood_at(T0 + timedelta(minutes=30))


def test_a_group_hold_applies_to_every_member_of_the_group() -> None:
    on_group = hold(subject_id=None, group="finance")
    assert on_group.applies_to("kim", frozenset({"staff", "finance"}))
    assert not on_group.applies_to("kim", frozenset({"staff"}))
    assert on_group.target == "group 'finance'"
    on_bob = hold()
    assert on_bob.applies_to("bob", frozenset())
    assert not on_bob.applies_to("kim", frozenset({"finance"}))


def test_a_lift_by_the_person_who_set_the_hold_is_refused() -> None:
    """Separation of duties: whoever set a hold never lifts it, even holding the
    lifting role (error id hold_lift_by_setter)."""
    with pytest.raises(HoldLiftBySetter) as refused:
        check_lifter(hold(), ADA, RULES, now=T0, on_self=False)
    assert refused.value.error_id == "hold_lift_by_setter"
    assert isinstance(refused.value, SeparationOfDuties)
    # The same person through another operator record is still the setter.
    other_record = replace(GRACE, id="op-ada-2", person="ada")
    with pytest.raises(HoldLiftBySetter):
        check_lifter(hold(), other_record, RULES, now=T0, on_self=False)
    check_lifter(hold(), GRACE, RULES, now=T0, on_self=False)  # another person: allowed


def test_lifting_needs_the_policys_role_and_group() -> None:
    with pytest.raises(NotAuthorized) as no_group:
        check_lifter(hold(), LINUS, RULES, now=T0, on_self=False)
    assert no_group.value.details["rule"] == "hold_groups"
    with pytest.raises(NotAuthorized):
        check_lifter(hold(), HANA, RULES, now=T0, on_self=False)
    # An admin holds every role, but the policy's group is asked of admins too.
    with pytest.raises(NotAuthorized):
        check_lifter(hold(), MARGARET, RULES, now=T0, on_self=False)
    assert not may_lift(LINUS, RULES) and may_lift(GRACE, RULES)
    requesters_lift = HoldRules(lift_role=Role.REQUESTER, lift_groups=frozenset())
    check_lifter(hold(), HANA, requesters_lift, now=T0, on_self=False)


def test_nobody_lifts_a_hold_on_their_own_account() -> None:
    with pytest.raises(SeparationOfDuties) as refused:
        check_lifter(hold(), GRACE, RULES, now=T0, on_self=True)
    assert refused.value.details["rule"] == "own_hold"


def test_a_hold_no_longer_standing_cannot_be_lifted() -> None:
    with pytest.raises(HoldNotStanding):
        check_lifter(hold(lifted_at=T0), GRACE, RULES, now=T0, on_self=False)
    with pytest.raises(HoldNotStanding):
        ended = hold(ends_at=T0 + timedelta(minutes=1))
        check_lifter(ended, GRACE, RULES, now=T0 + timedelta(minutes=1), on_self=False)


def test_a_hold_set_by_custos_itself_may_be_lifted_by_any_lifter() -> None:
    check_lifter(
        hold(set_by="system:custos", set_by_person=None), ADA, RULES, now=T0, on_self=False
    )


def test_setting_needs_the_policys_role_and_never_on_oneself() -> None:
    check_setter(LINUS, RULES, subject_id="bob")
    assert may_set(LINUS, RULES) and not may_set(HANA, RULES)
    with pytest.raises(NotAuthorized):
        check_setter(HANA, RULES, subject_id="bob")
    with pytest.raises(SeparationOfDuties):
        check_setter(LINUS, RULES, subject_id="linus")
    security_only = HoldRules(set_groups=frozenset({"security-approvers"}))
    with pytest.raises(NotAuthorized):
        check_setter(LINUS, security_only, subject_id=None)


def test_an_end_time_lies_in_the_future_and_names_its_zone() -> None:
    assert check_ends_at(None, T0) is None
    assert check_ends_at(T0 + timedelta(hours=1), T0) == T0 + timedelta(hours=1)
    with pytest.raises(InvalidInput):
        check_ends_at(T0, T0)
    with pytest.raises(InvalidInput):
        check_ends_at(datetime(2030, 1, 1), T0)


@pytest.mark.parametrize(
    "state",
    [
        CaseState.PROOFING,
        CaseState.AWAITING_APPROVAL,
        CaseState.APPROVED,
        CaseState.CREDENTIAL_ISSUED,
    ],
)
def test_a_held_case_goes_back_to_the_state_it_stood_in(state: CaseState) -> None:
    """Open cases move to blocked while a hold stands and back when the last one
    ends, each move a state-change event; the time held does not count against
    the case's lifetime."""
    case = make_case(state=state)
    expires = case.expires_at
    assert case.hold(at=T0, actor="operator:op-ada", reason="hold-1 (legal_hold)")
    assert case.state == CaseState.BLOCKED and case.held_from == state
    assert case.outcome_reason == "hold-1 (legal_hold)"
    assert case.release(at=T0 + timedelta(hours=5), actor="operator:op-grace", reason="lifted")
    assert case.state == state
    assert case.held_from is None and case.held_at is None
    assert case.outcome_reason == ""
    assert case.expires_at == expires + timedelta(hours=5)
    moves = [e.data for e in case.pending_events if e.type == EventType.CASE_STATE_CHANGED]
    assert moves[-2:] == [
        {"from": str(state), "to": "blocked"},
        {"from": "blocked", "to": str(state)},
    ]


@pytest.mark.parametrize(
    "state", [CaseState.EXECUTING, CaseState.VERIFYING, CaseState.COMPLETED, CaseState.BLOCKED]
)
def test_a_hold_leaves_cases_it_does_not_block_as_they_are(state: CaseState) -> None:
    case = make_case(state=state)
    assert not case.hold(at=T0, actor="operator:op-ada", reason="hold")
    assert case.state == state and case.held_from is None


def test_a_case_blocked_otherwise_does_not_go_back_when_holds_end() -> None:
    """A block a hold did not cause (a fraud flag, a block tier) is left only
    through break-glass or cancel."""
    case = make_case(state=CaseState.BLOCKED)
    assert not case.release(at=T0, actor="system:custos", reason="lifted")
    assert case.state == CaseState.BLOCKED
    flagged = make_case(state=CaseState.AWAITING_APPROVAL)
    flagged.hold(at=T0, actor="operator:op-ada", reason="hold")
    flagged.keep_blocked()  # a fraud flag on this very case
    assert not flagged.release(at=T0, actor="system:custos", reason="lifted")
    assert flagged.state == CaseState.BLOCKED


def test_release_refuses_a_recorded_state_a_hold_never_blocks() -> None:
    case = make_case(state=CaseState.BLOCKED)
    case.held_from = CaseState.EXECUTING  # not a state a hold blocks in
    with pytest.raises(IllegalTransition):
        case.release(at=T0, actor="system:custos", reason="lifted")
