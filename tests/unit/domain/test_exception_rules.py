"""The rules of exceptions and break-glass (domain/exceptions.py): an end time
the policy caps, two distinct approvers who are not the requester, an expired
or revoked exception relaxes nothing, and break-glass needs a security
approver (R-32, R-33, R-36)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from state_now import state_now
from test_case_lifecycle import BASE_REQUIREMENTS, make_case, proof

from custos.domain.errors import (
    BreakGlassRefused,
    ExceptionApprovalRefused,
    ExceptionNotActive,
    InvalidInput,
    SeparationOfDuties,
)
from custos.domain.events import EventType
from custos.domain.exceptions import (
    DEFAULT_MAX_DURATION,
    ExceptionApproval,
    ExceptionRecord,
    ExceptionStatus,
    Relaxation,
    approve,
    break_glass_passes,
    break_glass_requirements,
    check_break_glass_approval,
    check_break_glass_quorum,
    check_request,
    check_usable,
    relax,
    use_break_glass,
    use_exception,
)
from custos.domain.model import BreakGlass, Case, CredentialAction, Operator, Role
from custos.domain.states import CaseState

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SECURITY = frozenset({"security-approvers"})


def make_operator(person: str, groups: frozenset[str] = frozenset()) -> Operator:
    return Operator(
        id=f"op-{person}",
        name=person,
        person=person,
        roles=frozenset({Role.APPROVER}),
        scope=frozenset({"*"}),
        groups=groups,
    )


def record(**overrides: object) -> ExceptionRecord:
    base = ExceptionRecord(
        id="exc-1",
        requested_by="operator:op-req",
        requester_person="req",
        reason="audit week",
        relaxation=Relaxation.APPROVALS,
        value="1",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=24),
        subject_ids=("bob",),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def approved(rec: ExceptionRecord, *people: str) -> ExceptionRecord:
    for person in people:
        rec = approve(rec, actor=f"operator:{person}", person=person, now=T0)
    return rec


def request(**overrides: object) -> str:
    args: dict[str, object] = {
        "reason": " why ",
        "relaxation": Relaxation.APPROVALS,
        "value": "1",
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=24),
        "now": T0,
        "max_duration": DEFAULT_MAX_DURATION,
        "subject_ids": ("bob",),
        "group": None,
        "tier": None,
    }
    args.update(overrides)
    return check_request(**args)  # type: ignore[arg-type]


def test_request_is_accepted_with_an_end_within_the_cap() -> None:
    """R-36: a documented, time-bound exception is accepted."""
    assert request() == "why"


def test_request_is_refused_without_an_end_time() -> None:
    """No open-ended exception."""
    with pytest.raises(InvalidInput, match="needs an end time"):
        request(ends_at=None)


def test_request_is_refused_beyond_the_policy_cap() -> None:
    """The policy caps an exception's duration (default 72 h)."""
    with pytest.raises(InvalidInput, match="at most 72 h"):
        request(ends_at=T0 + timedelta(hours=73))
    assert request(ends_at=T0 + timedelta(hours=3), max_duration=timedelta(hours=3)) == "why"
    with pytest.raises(InvalidInput, match="at most 3 h"):
        request(ends_at=T0 + timedelta(hours=4), max_duration=timedelta(hours=3))


def test_request_is_refused_with_two_targets_or_none() -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        request(group="finance")
    with pytest.raises(InvalidInput, match="exactly one"):
        request(subject_ids=())


def test_exception_approved_by_two_distinct_people_is_active() -> None:
    """R-32: dual authorization makes an exception active."""
    assert approved(record(), "a", "b").status(T0) == ExceptionStatus.ACTIVE


def test_exception_approved_by_one_person_is_not_active() -> None:
    """R-32: one approver is not enough, and the same person twice counts once."""
    once = approved(record(), "a")
    assert once.status(T0) == ExceptionStatus.PENDING
    with pytest.raises(ExceptionApprovalRefused, match="already approved"):
        approved(once, "a")
    with pytest.raises(ExceptionNotActive):
        check_usable(once, subject_id="bob", groups=frozenset(), tier="standard", now=T0)


def test_exception_approved_by_the_requester_is_not_active() -> None:
    """R-33: the requester never approves their own exception."""
    with pytest.raises(ExceptionApprovalRefused, match="requester"):
        approved(record(), "req")
    # Even a record carrying the requester's approval does not count it.
    stored = record(
        approvals=(
            ExceptionApproval(actor="operator:a", person="a", at=T0),
            ExceptionApproval(actor="operator:req", person="req", at=T0),
        )
    )
    assert stored.status(T0) == ExceptionStatus.PENDING


def test_expired_exception_cannot_be_used() -> None:
    """An exception past its end time relaxes nothing, recorded or not."""
    rec = approved(record(), "a", "b")
    later = T0 + timedelta(hours=24)
    assert rec.status(later) == ExceptionStatus.EXPIRED
    with pytest.raises(ExceptionNotActive, match="expired"):
        check_usable(rec, subject_id="bob", groups=frozenset(), tier="standard", now=later)
    with pytest.raises(ExceptionNotActive):
        approve(record(), actor="operator:a", person="a", now=later)


def test_revoked_exception_cannot_be_used() -> None:
    rec = replace(approved(record(), "a", "b"), revoked_at=T0, revoked_by="operator:c")
    with pytest.raises(ExceptionNotActive, match="revoked"):
        check_usable(rec, subject_id="bob", groups=frozenset(), tier="standard", now=T0)


def test_exception_covers_only_its_subjects_group_or_tier() -> None:
    rec = approved(record(), "a", "b")
    with pytest.raises(ExceptionNotActive, match="does not cover"):
        check_usable(rec, subject_id="eve", groups=frozenset(), tier="standard", now=T0)
    by_group = replace(rec, subject_ids=(), group="finance")
    assert by_group.covers("eve", frozenset({"finance"}), "standard")
    assert not by_group.covers("eve", frozenset({"sales"}), "standard")
    by_tier = replace(rec, subject_ids=(), tier="privileged")
    assert by_tier.covers("eve", frozenset(), "privileged")
    assert not by_tier.covers("eve", frozenset(), "standard")


def test_relax_lowers_approvals_or_adds_a_method() -> None:
    req = replace(BASE_REQUIREMENTS, approvals=2, methods=frozenset({"totp"}))
    assert relax(req, record()).approvals == 1
    method = record(relaxation=Relaxation.METHOD, value="email_code")
    assert relax(req, method).methods == {"totp", "email_code"}


def test_break_glass_without_the_security_approver_is_refused() -> None:
    """Break-glass: the tier's approvers plus a security approver; a quorum
    filled without one is refused."""
    req = break_glass_requirements(
        replace(BASE_REQUIREMENTS, approvals=1, approver_groups=frozenset({"helpdesk-leads"})),
        SECURITY,
    )
    assert req.approvals == 2
    assert req.approver_groups == {"helpdesk-leads", "security-approvers"}
    leads = frozenset({"helpdesk-leads"})
    check_break_glass_quorum(required=2, approver_groups=[leads], security_groups=SECURITY)
    with pytest.raises(BreakGlassRefused, match="security approver") as refused:
        check_break_glass_quorum(
            required=2, approver_groups=[leads, leads], security_groups=SECURITY
        )
    assert refused.value.error_id == "break_glass_refused"
    check_break_glass_quorum(
        required=2, approver_groups=[leads, SECURITY], security_groups=SECURITY
    )


def glass(case: Case, rec: ExceptionRecord, reason: str) -> None:
    use_break_glass(
        case,
        rec,
        groups=frozenset(),
        security_groups=SECURITY,
        reason=reason,
        now=T0,
        actor="operator:hd",
        person="hd",
    )


def glass_rec(case: Case) -> ExceptionRecord:
    return approved(
        record(subject_ids=(case.subject_id,), relaxation=Relaxation.BREAK_GLASS, value=""),
        "a",
        "b",
    )


def test_case_records_the_exception_it_used() -> None:
    """A case using an exception records it (evidence, timeline) and is relaxed."""
    case = make_case(CaseState.PROOFING, approvals=2)
    subject = case.subject_id
    rec = approved(record(subject_ids=(subject,)), "a", "b")
    use_exception(case, rec, groups=frozenset(), now=T0, actor="operator:hd")
    assert case.requirements.approvals == 1
    used = [e for e in case.pending_events if e.type == EventType.EXCEPTION_USED]
    assert [e.data["exception"] for e in used] == ["exc-1"]


def test_case_cannot_use_an_expired_exception() -> None:
    """An expired exception cannot be used: the case keeps its requirements."""
    case = make_case(CaseState.PROOFING, approvals=2)
    rec = approved(record(subject_ids=(case.subject_id,)), "a", "b")
    with pytest.raises(ExceptionNotActive):
        use_exception(case, rec, groups=frozenset(), now=rec.ends_at, actor="operator:hd")
    assert case.requirements.approvals == 2
    assert not case.pending_events


def test_break_glass_sends_a_blocked_case_back_to_approval_with_a_security_approver() -> None:
    """Break-glass: a blocked case whose evidence is in goes back to approval
    with one approver more, and the use is marked on the case (R-36)."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    case.proofs.append(proof())
    rec = glass_rec(case)
    with pytest.raises(BreakGlassRefused, match="documented reason"):
        glass(case, rec, " ")
    glass(case, rec, "CEO locked out")
    assert case.state == CaseState.AWAITING_APPROVAL
    assert case.requirements.approvals == 2
    use = case.requirements.break_glass
    assert use is not None and use.exception == rec.id and use.invoker_person == "hd"
    assert [e.type for e in case.pending_events] == [
        EventType.BREAK_GLASS_USED,
        EventType.CASE_STATE_CHANGED,
    ]


def test_break_glass_never_skips_proofing() -> None:
    """R-32: a case blocked as it opened (no evidence yet) goes to proofing,
    not to approval; a tier with no proofing method is refused."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    glass(case, glass_rec(case), "CEO locked out")
    assert case.state == CaseState.PROOFING
    assert case.expires_at == T0 + case.requirements.case_ttl
    bare = make_case(CaseState.BLOCKED, approvals=1, methods=frozenset())
    with pytest.raises(BreakGlassRefused) as refused:
        glass(bare, glass_rec(bare), "CEO locked out")
    assert refused.value.details["rule"] == "no_proofing"
    assert bare.state == CaseState.BLOCKED


def test_break_glass_refusals_name_their_rule() -> None:
    """Each refusal answers break_glass_refused with the rule it applied and
    leaves the case as it was."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    rec = glass_rec(case)
    cases = {
        "not_blocked": (make_case(CaseState.PROOFING), rec),
        "not_active": (case, replace(rec, revoked_at=T0, revoked_by="x")),
        "not_covered": (case, replace(rec, subject_ids=("someone-else",))),
        "not_break_glass": (case, approved(record(subject_ids=(case.subject_id,)), "a", "b")),
    }
    for rule, (target, used) in cases.items():
        before = (target.state, target.requirements)
        with pytest.raises(BreakGlassRefused) as refused:
            glass(target, used, "why")
        assert refused.value.details["rule"] == rule
        assert (target.state, target.requirements) == before
    pending = replace(rec, approvals=rec.approvals[:1])
    with pytest.raises(BreakGlassRefused, match="pending"):
        glass(case, pending, "why")


def test_break_glass_approval_needs_a_security_approver_and_never_the_invoker() -> None:
    """R-32, R-33: the invoker cannot approve; the approval filling the quorum
    without a security approver is refused; one from the security groups
    completes it."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    case.proofs.append(proof())
    glass(case, glass_rec(case), "CEO locked out")
    invoker = make_operator("hd", groups=frozenset({"security-approvers"}))
    with pytest.raises(SeparationOfDuties) as sod:
        check_break_glass_approval(case, invoker, prior_groups=[])
    assert sod.value.details["rule"] == "break_glass_invoker"
    plain = make_operator("ann")
    check_break_glass_approval(case, plain, prior_groups=[])
    with pytest.raises(BreakGlassRefused):
        check_break_glass_approval(case, make_operator("ben"), prior_groups=[frozenset()])
    check_break_glass_approval(
        case, make_operator("sue", groups=SECURITY), prior_groups=[frozenset()]
    )
    # A case without break-glass: nothing to check.
    check_break_glass_approval(make_case(CaseState.AWAITING_APPROVAL), invoker, prior_groups=[])


def test_only_the_break_glass_case_passes_its_subject_s_hold() -> None:
    """The case that used break-glass goes on while the exception is active;
    not while blocked, not once the exception ended, never another case."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    rec = glass_rec(case)
    assert not break_glass_passes(case, rec, groups=frozenset(), now=T0)
    glass(case, rec, "CEO locked out")
    assert break_glass_passes(case, rec, groups=frozenset(), now=T0)
    assert not break_glass_passes(case, rec, groups=frozenset(), now=rec.ends_at)
    assert not break_glass_passes(case, None, groups=frozenset(), now=T0)
    other = make_case(CaseState.AWAITING_APPROVAL)
    assert not break_glass_passes(other, rec, groups=frozenset(), now=T0)


def test_break_glass_with_a_non_break_glass_exception_is_refused() -> None:
    case = make_case(CaseState.BLOCKED)
    rec = approved(record(subject_ids=(case.subject_id,)), "a", "b")
    with pytest.raises(BreakGlassRefused, match="not a break-glass"):
        glass(case, rec, "x")
    assert case.state == CaseState.BLOCKED


def test_a_case_opened_under_a_block_tier_recovers_by_the_tier_without_its_holds() -> None:
    """A held subject's case opened under the policy's block tier: break-glass
    gives it the requirements of the tier the subject matches without its
    holds (recorded as a tier selection), plus the security approver; a
    block tier that stays is refused (break-glass passes a hold, not a block
    tier)."""
    case = make_case(
        CaseState.BLOCKED,
        tier="frozen",
        action=CredentialAction.BLOCK,
        methods=frozenset(),
        factors=0,
    )
    rec = glass_rec(case)
    with pytest.raises(BreakGlassRefused) as refused:
        glass(case, rec, "CEO locked out")
    assert refused.value.details["rule"] == "policy_blocks"
    assert case.state == CaseState.BLOCKED and not case.pending_events
    recovering = replace(BASE_REQUIREMENTS, tier="contractor", approvals=1)
    use_break_glass(
        case,
        rec,
        groups=frozenset(),
        security_groups=SECURITY,
        reason="CEO locked out",
        now=T0,
        actor="operator:hd",
        person="hd",
        recovering=recovering,
    )
    assert state_now(case) == CaseState.PROOFING
    assert case.requirements.tier == "contractor" and case.requirements.approvals == 2
    assert [e.type for e in case.pending_events] == [
        EventType.TIER_SELECTED,
        EventType.BREAK_GLASS_USED,
        EventType.CASE_STATE_CHANGED,
    ]


def test_a_break_glass_case_blocked_again_does_not_pass_the_hold() -> None:
    """R-32: a case that used break-glass and was blocked again (a new hold)
    waits like any other blocked case, though its exception is still active."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    rec = glass_rec(case)
    glass(case, rec, "CEO locked out")
    assert break_glass_passes(case, rec, groups=frozenset(), now=T0)
    assert case.hold(at=T0, actor="operator:legal", reason="legal hold")
    assert case.requirements.break_glass is not None
    assert not break_glass_passes(case, rec, groups=frozenset(), now=T0)


def test_break_glass_passes_by_the_subject_s_group_or_its_tier() -> None:
    """An exception on a group passes a case whose subject is in the group (not
    one outside it); one on a tier passes a case of that tier (not another)."""
    for covering, passes, fails in [
        ({"group": "finance"}, ({"finance"}, "standard"), ({"sales"}, "standard")),
        ({"tier": "standard"}, (set(), "standard"), (set(), "privileged")),
    ]:
        case = make_case(CaseState.BLOCKED, approvals=1)
        rec = approved(
            record(subject_ids=(), relaxation=Relaxation.BREAK_GLASS, value="", **covering),
            "a",
            "b",
        )
        use_break_glass(
            case,
            rec,
            groups=frozenset({"finance"}),
            security_groups=SECURITY,
            reason="CEO locked out",
            now=T0,
            actor="operator:hd",
            person="hd",
        )
        groups, tier = passes
        case.requirements = replace(case.requirements, tier=tier)
        assert break_glass_passes(case, rec, groups=frozenset(groups), now=T0), covering
        groups, tier = fails
        case.requirements = replace(case.requirements, tier=tier)
        assert not break_glass_passes(case, rec, groups=frozenset(groups), now=T0), covering


def test_break_glass_invoker_refusal_says_why() -> None:
    """R-33: the refusal's words reach the operator."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    glass(case, glass_rec(case), "CEO locked out")
    with pytest.raises(SeparationOfDuties) as refused:
        check_break_glass_approval(case, make_operator("hd", SECURITY), prior_groups=[])
    assert refused.value.message == (
        "the operator who invoked break-glass on a case cannot approve it"
    )
    assert refused.value.details == {"rule": "break_glass_invoker"}


def test_use_exception_records_who_used_it_when_and_what_it_relaxed() -> None:
    """R-36: the exception's use is on the case's record, field by field."""
    case = make_case(CaseState.AWAITING_APPROVAL, approvals=2)
    rec = approved(
        record(subject_ids=(case.subject_id,), relaxation=Relaxation.METHOD, value="sms_code"),
        "a",
        "b",
    )
    later = T0 + timedelta(minutes=5)
    use_exception(case, rec, groups=frozenset(), now=later, actor="operator:hd")
    assert "sms_code" in case.requirements.methods
    (event,) = case.pending_events
    assert (event.type, event.occurred_at, event.actor, event.reason, event.case_id) == (
        EventType.EXCEPTION_USED,
        later,
        "operator:hd",
        "audit week",
        "case-1",
    )
    assert event.data == {"exception": "exc-1", "relaxation": "method", "value": "sms_code"}


def test_use_exception_by_the_subject_s_group_or_its_tier() -> None:
    """An exception on a group or on a tier relaxes a case it covers, and
    refuses (unchanged) one it does not."""
    for covering, groups, tier in [
        ({"group": "finance"}, frozenset({"finance"}), "standard"),
        ({"tier": "privileged"}, frozenset(), "privileged"),
    ]:
        rec = approved(record(subject_ids=(), **covering), "a", "b")
        case = make_case(CaseState.PROOFING, approvals=2, tier=tier)
        use_exception(case, rec, groups=groups, now=T0, actor="operator:hd")
        assert case.requirements.approvals == 1, covering
        other = make_case(CaseState.PROOFING, approvals=2, tier="other")
        with pytest.raises(ExceptionNotActive, match="does not cover"):
            use_exception(other, rec, groups=frozenset({"sales"}), now=T0, actor="operator:hd")
        assert other.requirements.approvals == 2


def test_use_exception_refusals_say_why() -> None:
    case = make_case(CaseState.PROOFING, approvals=2)
    glass_record = glass_rec(case)
    with pytest.raises(InvalidInput) as refused:
        use_exception(case, glass_record, groups=frozenset(), now=T0, actor="operator:hd")
    assert refused.value.message == "a break-glass exception is used through the break-glass path"
    for state in (CaseState.APPROVED, CaseState.BLOCKED, CaseState.OPENED):
        closed = make_case(state, approvals=2)
        rec = approved(record(subject_ids=(closed.subject_id,)), "a", "b")
        with pytest.raises(InvalidInput) as refused:
            use_exception(closed, rec, groups=frozenset(), now=T0, actor="operator:hd")
        assert refused.value.message == f"case case-1 cannot take an exception in state '{state}'"
        assert closed.requirements.approvals == 2 and not closed.pending_events


def test_break_glass_quorum_refusal_names_the_security_groups() -> None:
    """The refusal names every security group, sorted, in words and in details."""
    groups = frozenset({"soc", "security-approvers"})
    with pytest.raises(BreakGlassRefused) as refused:
        check_break_glass_quorum(
            required=1, approver_groups=[frozenset({"helpdesk"})], security_groups=groups
        )
    assert refused.value.message == (
        "break-glass needs a security approver among the approvers (security-approvers, soc)"
    )
    assert refused.value.details == {
        "rule": "security_approver",
        "groups": ["security-approvers", "soc"],
    }


@pytest.mark.parametrize(
    ("overrides", "message", "details"),
    [
        ({"reason": ""}, "an exception needs a reason of 1 to 2000 characters", {}),
        ({"reason": "  \n "}, "an exception needs a reason of 1 to 2000 characters", {}),
        ({"reason": "x" * 2001}, "an exception needs a reason of 1 to 2000 characters", {}),
        (
            {"subject_ids": (), "group": "g", "tier": "t"},
            "an exception covers subjects, one group or one tier: give exactly one",
            {},
        ),
        ({"ends_at": None}, "an exception needs an end time; none is open-ended", {}),
        (
            {"ends_at": (T0 + timedelta(hours=1)).replace(tzinfo=None)},
            "give the end time with its time zone (e.g. 2026-12-31T18:00Z)",
            {},
        ),
        (
            {"starts_at": T0.replace(tzinfo=None)},
            "give the start time with its time zone (e.g. 2026-12-31T18:00Z)",
            {},
        ),
        (
            # Past what a datetime holds in UTC: comparing it overflowed.
            {"ends_at": datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=14)))},
            "the end time must lie between 1970-01-01 and 9000-01-01 (UTC)",
            {},
        ),
        (
            {"starts_at": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))},
            "the start time must lie between 1970-01-01 and 9000-01-01 (UTC)",
            {},
        ),
        ({"ends_at": T0}, "the end time of an exception must lie after its start and now", {}),
        (
            {"starts_at": T0 + timedelta(hours=2), "ends_at": T0 + timedelta(hours=2)},
            "the end time of an exception must lie after its start and now",
            {},
        ),
        (
            {"now": T0 + timedelta(hours=5), "ends_at": T0 + timedelta(hours=5)},
            "the end time of an exception must lie after its start and now",
            {},
        ),
        (
            {"ends_at": T0 + timedelta(hours=3, seconds=1), "max_duration": timedelta(hours=3)},
            "an exception lasts at most 3 h (policy exceptions.max_duration)",
            {"max_hours": 3},
        ),
        (
            {"value": "0"},
            "an approvals exception names the count it allows, at least 1",
            {},
        ),
        (
            {"value": "two"},
            "an approvals exception names the count it allows, at least 1",
            {},
        ),
        (
            {"relaxation": Relaxation.METHOD, "value": "  "},
            "a method exception names the method it allows",
            {},
        ),
    ],
)
def test_request_refusals_say_what_is_wrong(
    overrides: dict[str, object], message: str, details: dict[str, object]
) -> None:
    """Each refusal of a request, with its words (the CLI and API show them)."""
    with pytest.raises(InvalidInput) as refused:
        request(**overrides)
    assert refused.value.message == message
    assert refused.value.details == details


@pytest.mark.parametrize(
    "overrides",
    [
        {"reason": "x" * 2000},
        {"ends_at": T0 + timedelta(hours=3), "max_duration": timedelta(hours=3)},
        {"ends_at": T0 + timedelta(seconds=1)},
        {"starts_at": T0 + timedelta(hours=1), "ends_at": T0 + timedelta(hours=1, seconds=1)},
        {"value": "2"},
        {"relaxation": Relaxation.METHOD, "value": "sms_code"},
        {"relaxation": Relaxation.BREAK_GLASS, "value": ""},
        {"subject_ids": (), "group": "finance"},
        {"subject_ids": (), "tier": "privileged"},
    ],
)
def test_request_is_accepted_at_the_edges(overrides: dict[str, object]) -> None:
    """The longest reason, an end exactly at the cap or just after the start, a
    method or break-glass value that is no count, one group or one tier."""
    reason = overrides.get("reason", " why ")
    assert request(**overrides) == str(reason).strip()


def test_unusable_exception_refusal_names_the_exception() -> None:
    pending = approved(record(), "a")
    with pytest.raises(ExceptionNotActive) as refused:
        check_usable(pending, subject_id="bob", groups=frozenset(), tier="standard", now=T0)
    assert refused.value.message == "exception exc-1 is pending, not active"
    assert refused.value.details == {"exception": "exc-1"}
    active = approved(record(), "a", "b")
    with pytest.raises(ExceptionNotActive) as refused:
        check_usable(active, subject_id="eve", groups=frozenset(), tier="standard", now=T0)
    assert refused.value.message == "exception exc-1 does not cover subject 'eve'"
    assert refused.value.details == {"exception": "exc-1"}


def test_break_glass_keeps_a_tier_open_to_any_approver_open() -> None:
    """A tier without approver groups stays without: the break-glass quorum
    rule (a security approver among them) checks the security approver, not
    a narrower group of every approver."""
    req = break_glass_requirements(replace(BASE_REQUIREMENTS, approvals=1), SECURITY)
    assert (req.approvals, req.approver_groups, req.break_glass) == (2, frozenset(), None)


def test_break_glass_exception_refusals_name_the_exception_and_rule() -> None:
    case = make_case(CaseState.BLOCKED, approvals=1)
    rec = glass_rec(case)
    not_glass = approved(record(subject_ids=(case.subject_id,)), "a", "b")
    for used, rule, message in [
        (
            not_glass,
            "not_break_glass",
            "exception exc-1 is not a break-glass exception (it relaxes 'approvals')",
        ),
        (
            replace(rec, subject_ids=("eve",)),
            "not_covered",
            "exception exc-1 does not cover subject 'alice'",
        ),
        (replace(rec, revoked_at=T0), "not_active", "exception exc-1 is revoked, not active"),
    ]:
        with pytest.raises(BreakGlassRefused) as refused:
            glass(case, used, "why")
        assert refused.value.message == message
        assert refused.value.details == {"rule": rule, "exception": "exc-1"}


def test_break_glass_refusals_say_what_is_wrong() -> None:
    """Every refusal of use_break_glass, word for word, with its rule; the case
    is left as it was."""
    case = make_case(CaseState.BLOCKED, approvals=1)
    rec = glass_rec(case)
    open_case = make_case(CaseState.PROOFING)
    with pytest.raises(BreakGlassRefused) as refused:
        glass(open_case, rec, "why")
    assert refused.value.message == (
        "case case-1 is not blocked (state 'proofing'); break-glass only sends a blocked case on"
    )
    assert refused.value.details == {"rule": "not_blocked"}
    for reason in ("", "   ", "x" * 2001):
        with pytest.raises(BreakGlassRefused) as refused:
            glass(case, rec, reason)
        assert refused.value.message == (
            "break-glass needs a documented reason of 1 to 2000 characters"
        )
        assert refused.value.details == {"rule": "reason"}
    with pytest.raises(BreakGlassRefused) as refused:
        use_break_glass(
            case,
            rec,
            groups=frozenset(),
            security_groups=frozenset(),
            reason="why",
            now=T0,
            actor="operator:hd",
            person="hd",
        )
    assert refused.value.message == (
        "the policy names no security approver groups (exceptions.security_groups)"
    )
    assert refused.value.details == {"rule": "security_approver"}
    blocking = make_case(CaseState.BLOCKED, tier="frozen", action=CredentialAction.BLOCK)
    with pytest.raises(BreakGlassRefused) as refused:
        glass(blocking, glass_rec(blocking), "why")
    assert refused.value.message == (
        "tier 'frozen' refuses this recovery whatever the holds: a break-glass exception "
        "past a block tier must name, in its value, the tier to recover under"
    )
    assert refused.value.details == {"rule": "policy_blocks"}
    bare = make_case(CaseState.BLOCKED, methods=frozenset())
    with pytest.raises(BreakGlassRefused) as refused:
        glass(bare, glass_rec(bare), "why")
    assert refused.value.message == (
        "tier 'standard' lists no proofing method, so the case's evidence can never be in: "
        "cancel it and open a new case"
    )
    assert refused.value.details == {"rule": "no_proofing"}
    assert case.state == CaseState.BLOCKED and not case.pending_events


def test_break_glass_takes_the_longest_reason() -> None:
    case = make_case(CaseState.BLOCKED, approvals=1)
    glass(case, glass_rec(case), "x" * 2000)
    assert case.state == CaseState.PROOFING


def test_break_glass_use_is_recorded_field_by_field() -> None:
    """R-36: who used break-glass, when, why and with which exception, on the
    case's requirements and its events; the hold's bookkeeping and the block's
    reason are cleared, and a proofed case waits for approval for the tier's
    approval expiry."""
    case = make_case(
        CaseState.AWAITING_APPROVAL,
        approvals=1,
        approver_groups=frozenset({"helpdesk-leads"}),
    )
    case.proofs.append(proof())
    case.hold(at=T0 - timedelta(hours=1), actor="operator:legal", reason="legal hold")
    assert case.outcome_reason == "legal hold"
    case.pending_events.clear()
    rec = glass_rec(case)
    soc = frozenset({"soc", "security-approvers"})
    use_break_glass(
        case,
        rec,
        groups=frozenset(),
        security_groups=soc,
        reason=" CEO locked out ",
        now=T0,
        actor="operator:op-hd",
        person="hd",
    )
    req = case.requirements
    assert req.break_glass == BreakGlass(
        exception="exc-1",
        invoked_by="operator:op-hd",
        invoker_person="hd",
        at=T0,
        security_groups=soc,
    )
    assert (req.approvals, req.approver_groups) == (
        2,
        frozenset({"helpdesk-leads", "soc", "security-approvers"}),
    )
    assert (case.held_from, case.held_at, case.outcome_reason) == (None, None, "")
    assert case.state == CaseState.AWAITING_APPROVAL
    assert case.expires_at == T0 + req.approval_expiry
    used, moved = case.pending_events
    assert used.canonical() == {
        "type": "governance:break_glass:used",
        "time": "2026-12-06T09:00:00.000000Z",
        "source": "custos",
        "actor": "operator:op-hd",
        "subject": "alice",
        "case": "case-1",
        "outcome": "success",
        "reason": "CEO locked out",
        "data": {
            "exception": "exc-1",
            "security_groups": ["security-approvers", "soc"],
            "approvals": 2,
        },
    }
    assert (moved.type, moved.occurred_at, moved.actor, moved.reason, moved.data) == (
        EventType.CASE_STATE_CHANGED,
        T0,
        "operator:op-hd",
        "break-glass: CEO locked out",
        {"from": "blocked", "to": "awaiting_approval"},
    )


def test_a_second_break_glass_use_raises_the_quorum_once_only() -> None:
    """A case that used break-glass, was blocked again and uses it again needs
    the tier's approvers plus one security approver, not plus two; the
    approvals given before the new block no longer count."""
    case = make_case(CaseState.BLOCKED, approvals=2, approver_groups=frozenset({"leads"}))
    rec = glass_rec(case)
    glass(case, rec, "first")
    assert case.requirements.approvals == 3
    case.hold(at=T0, actor="operator:legal", reason="another hold")
    glass(case, rec, "second")
    assert case.requirements.approvals == 3
    assert case.requirements.approver_groups == frozenset({"leads", "security-approvers"})
    assert case.approvals == []


def test_a_tier_selected_under_break_glass_is_recorded_field_by_field() -> None:
    """The tier a held subject recovers under, past the block tier it opened
    under, is recorded as a tier selection with every field an auditor reads."""
    case = make_case(
        CaseState.BLOCKED, tier="frozen", action=CredentialAction.BLOCK, methods=frozenset()
    )
    recovering = replace(
        BASE_REQUIREMENTS,
        tier="contractor",
        approvals=1,
        factors=2,
        phishing_resistant=True,
        policy_hash="sha256:abc",
        policy_version=7,
        action=CredentialAction.REISSUE,
        methods=frozenset({"totp", "email_code"}),
    )
    use_break_glass(
        case,
        glass_rec(case),
        groups=frozenset(),
        security_groups=SECURITY,
        reason="why",
        now=T0 + timedelta(minutes=3),
        actor="operator:op-hd",
        person="hd",
        recovering=recovering,
    )
    selected = case.pending_events[0]
    assert selected.canonical() == {
        "type": "policy:case:tier_selected",
        "time": "2026-12-06T09:03:00.000000Z",
        "source": "custos",
        "actor": "operator:op-hd",
        "subject": "alice",
        "case": "case-1",
        "outcome": "success",
        "reason": "break-glass: the tier the subject matches without its holds",
        "data": {
            "tier": "contractor",
            "policy_hash": "sha256:abc",
            "policy_version": 7,
            "action": "reissue",
            "factors": 2,
            "methods": ["email_code", "totp"],
            "approvals": 1,
            "phishing_resistant": True,
            "refused": False,
        },
    }


def test_exception_approval_is_recorded_and_its_refusals_say_why() -> None:
    """R-32, R-33: an approval records who (actor and person) and when; the
    requester's approval and one on an ended exception are refused in words."""
    later = T0 + timedelta(minutes=7)
    rec = approve(record(), actor="operator:op-a", person="a", now=later)
    assert rec.approvals == (ExceptionApproval(actor="operator:op-a", person="a", at=later),)
    with pytest.raises(ExceptionApprovalRefused) as refused:
        approve(rec, actor="operator:op-req", person="req", now=T0)
    assert refused.value.message == "the requester of an exception never approves it"
    assert refused.value.details == {"rule": "requester"}
    with pytest.raises(ExceptionApprovalRefused) as refused:
        approve(rec, actor="operator:op-a2", person="a", now=T0)
    assert refused.value.message == (
        "this person already approved the exception; two different people must"
    )
    assert refused.value.details == {"rule": "already_approved"}
    for ended, status in [
        (replace(rec, revoked_at=T0), "revoked"),
        (replace(rec, expired_at=T0), "expired"),
    ]:
        with pytest.raises(ExceptionNotActive) as not_active:
            approve(ended, actor="operator:op-b", person="b", now=T0)
        assert not_active.value.message == f"exception exc-1 is {status}"
        assert not_active.value.details == {"exception": "exc-1"}
