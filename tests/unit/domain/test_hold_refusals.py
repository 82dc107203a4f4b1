"""The refusals of the hold rules (domain/holds.py), word for word: the API and
the CLI show their messages, error ids and details, so each is pinned here
(R-32: holds; issue 17: every behaviour-changing mutant killed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from test_case_lifecycle import make_case
from test_hold_rules import ADA, GRACE, HANA, LINUS, RULES, T0, hold

from custos.domain.errors import (
    HoldLiftBySetter,
    HoldNotStanding,
    InvalidInput,
    NotAuthorized,
    SeparationOfDuties,
)
from custos.domain.holds import (
    KIND_PATTERN,
    MAX_REASON,
    HoldRules,
    check_ends_at,
    check_kind,
    check_lifter,
    check_reason,
    check_setter,
    kinds_in_words,
    may_lift,
    may_set,
)
from custos.domain.states import CaseState


def test_unknown_kind_is_refused_naming_the_known_kinds() -> None:
    """R-32: an unknown hold kind is refused with the kinds the policy knows,
    the kind itself cut at 50 characters."""
    rules = HoldRules(kinds=frozenset({"legal_hold", "fraud"}))
    assert check_kind("fraud", rules) == "fraud"
    with pytest.raises(InvalidInput) as refused:
        check_kind("x" * 60, rules)
    assert refused.value.message == f"unknown hold kind '{'x' * 50}'; known: fraud, legal_hold"
    assert refused.value.details == {"known": ["fraud", "legal_hold"]}


@pytest.mark.parametrize("reason", ["", "  \t ", "r" * (MAX_REASON + 1)])
def test_a_reason_blank_or_too_long_is_refused(reason: str) -> None:
    """R-35: a hold and its lifting each carry a reason of 1 to 2000 characters."""
    with pytest.raises(InvalidInput) as refused:
        check_reason(reason, what="setting a hold")
    assert refused.value.message == "setting a hold needs a reason of 1 to 2000 characters"


def test_a_reason_is_stripped_and_may_be_2000_characters() -> None:
    assert check_reason("  matter 12 \n", what="lifting") == "matter 12"
    assert check_reason("r" * MAX_REASON, what="lifting") == "r" * MAX_REASON


def test_end_time_refusals_say_what_is_wrong() -> None:
    with pytest.raises(InvalidInput) as naive:
        check_ends_at(datetime(2030, 1, 1), T0)
    assert naive.value.message == ("give the end time with its time zone (e.g. 2026-12-31T18:00Z)")
    with pytest.raises(InvalidInput) as past:
        check_ends_at(T0 - timedelta(seconds=1), T0)
    assert past.value.message == "the end time of a hold must lie in the future"
    with pytest.raises(InvalidInput) as beyond:
        # Past what a datetime holds in UTC: comparing it with now overflowed.
        check_ends_at(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=14))), T0)
    assert beyond.value.message == "the end time must lie between 1970-01-01 and 9000-01-01 (UTC)"
    far = datetime(8999, 12, 31, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert check_ends_at(far, T0) == datetime(8999, 12, 31, 8, 0, tzinfo=UTC)


def test_setting_without_the_role_names_the_role() -> None:
    with pytest.raises(NotAuthorized) as refused:
        check_setter(HANA, RULES, subject_id="bob")
    assert refused.value.message == "setting a hold needs the 'approver' role"
    assert refused.value.details == {"role": "approver"}


def test_setting_without_the_group_names_the_groups() -> None:
    """The policy's set_groups are asked of the setter, and named when missing."""
    rules = HoldRules(set_groups=frozenset({"security-approvers", "legal"}))
    with pytest.raises(NotAuthorized) as refused:
        check_setter(LINUS, rules, subject_id=None)
    assert refused.value.message == "setting a hold needs membership of: legal, security-approvers"
    assert refused.value.details == {
        "rule": "hold_groups",
        "groups": ["legal", "security-approvers"],
    }
    assert not may_set(LINUS, rules)
    assert may_set(ADA, HoldRules(set_groups=frozenset({"security-approvers"})))


def test_a_hold_on_oneself_is_refused_by_rule() -> None:
    with pytest.raises(SeparationOfDuties) as refused:
        check_setter(LINUS, RULES, subject_id="linus")
    assert refused.value.message == "nobody sets a hold on their own account"
    assert refused.value.details == {"rule": "own_hold"}


def test_lifting_refusals_name_the_role_and_the_groups() -> None:
    with pytest.raises(NotAuthorized) as no_role:
        check_lifter(hold(), HANA, RULES, now=T0, on_self=False)
    assert no_role.value.message == "lifting a hold needs the 'approver' role"
    assert no_role.value.details == {"role": "approver"}
    with pytest.raises(NotAuthorized) as no_group:
        check_lifter(hold(), LINUS, RULES, now=T0, on_self=False)
    assert no_group.value.message == "lifting a hold needs membership of: security-approvers"
    assert no_group.value.details == {"rule": "hold_groups", "groups": ["security-approvers"]}
    # may_lift asks the lifting rules, not the setting ones.
    lifting_by_legal = HoldRules(lift_groups=frozenset({"legal"}), set_groups=frozenset())
    assert not may_lift(GRACE, lifting_by_legal)
    assert may_set(GRACE, lifting_by_legal)


def test_lifting_refusals_name_the_hold_and_the_rule() -> None:
    """R-32: the setter never lifts; a hold no longer standing is named with its status."""
    with pytest.raises(HoldLiftBySetter) as by_setter:
        check_lifter(hold(), ADA, RULES, now=T0, on_self=False)
    assert by_setter.value.message == (
        "hold hold-1 was set by this person; a different person must lift it"
    )
    assert by_setter.value.details == {"hold": "hold-1", "rule": "hold_setter"}
    with pytest.raises(HoldNotStanding) as lifted:
        check_lifter(hold(lifted_at=T0), GRACE, RULES, now=T0, on_self=False)
    assert lifted.value.message == "hold hold-1 is not standing any more (lifted)"
    assert lifted.value.details == {"hold": "hold-1"}
    with pytest.raises(SeparationOfDuties) as on_self:
        check_lifter(hold(), GRACE, RULES, now=T0, on_self=True)
    assert on_self.value.message == "nobody lifts a hold on their own account"
    assert on_self.value.details == {"rule": "own_hold"}


def test_kinds_in_words_are_sorted_and_comma_separated() -> None:
    assert kinds_in_words(frozenset({"legal_hold", "fraud", "incident_freeze"})) == (
        "fraud, incident_freeze, legal_hold"
    )
    assert kinds_in_words(frozenset()) == ""


def test_a_release_timed_before_the_hold_never_shortens_the_case() -> None:
    """R-32: only time actually spent held extends a case's lifetime; a release
    stamped before the hold (a clock stepped back) leaves the expiry as it was."""
    case = make_case(state=CaseState.APPROVED)
    expires = case.expires_at
    case.hold(at=T0, actor="operator:op-ada", reason="hold")
    assert case.release(at=T0 - timedelta(minutes=5), actor="system:custos", reason="lifted")
    assert case.expires_at == expires
    assert case.state == CaseState.APPROVED


def test_hold_and_release_record_their_time_actor_and_reason() -> None:
    """R-35: the moves into and out of a hold's block are recorded with who, when
    and why, as the hold's setter and lifter gave them."""
    case = make_case(state=CaseState.AWAITING_APPROVAL)
    case.hold(at=T0, actor="operator:op-ada", reason="hold-1 (legal_hold)")
    case.release(at=T0 + timedelta(hours=1), actor="operator:op-grace", reason="matter closed")
    blocked, back = case.pending_events[-2:]
    assert (blocked.occurred_at, blocked.actor, blocked.reason) == (
        T0,
        "operator:op-ada",
        "hold-1 (legal_hold)",
    )
    assert (back.occurred_at, back.actor, back.reason) == (
        T0 + timedelta(hours=1),
        "operator:op-grace",
        "matter closed",
    )


@pytest.mark.parametrize(
    ("kind", "ok"),
    [
        ("a", True),
        ("legal_hold", True),
        ("k" + "x" * 39, True),  # 40 characters, the longest
        ("k" + "x" * 40, False),
        ("", False),
        ("1abc", False),
        ("_abc", False),
        ("Legal", False),
        ("legal-hold", False),
        ("legal hold", False),
    ],
)
def test_a_hold_kind_is_spelt_in_lower_case_up_to_40_characters(kind: str, ok: bool) -> None:
    """The spelling a policy's own hold kinds must have (policy schema)."""
    assert (KIND_PATTERN.fullmatch(kind) is not None) is ok
