"""The report of ``custos policy simulate`` field by field
(custos.policy.simulate): one replay's JSON, the properties the totals count,
the totals and their JSON, the order of the cases and the sentence that says on
which attributes a replay stands. The CLI prints and the console shows exactly
these values, and a script may read the JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import policy_text
import pytest

from custos.domain.model import Channel, Employment, RiskAssessment, Subject
from custos.policy.engine import Opening, band_for, select_requirements
from custos.policy.landing import Difference, Direction, Effect, Landing
from custos.policy.loader import LoadedPolicy, parse_policy
from custos.policy.simulate import (
    CaseReplay,
    RecordedCase,
    replay,
    simulate,
    totals_of,
)

TEXT = """\
version: 3
risk_bands: {low: [0, 49], high: [50, 100]}
tiers:
  - name: contractor
    match: {employment: contractor}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    approvals: {count: 1}
    action: reset_token
    token_ttl: 15m
  - name: staff
    match: {}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    action: reset_token
    token_ttl: 15m
"""
POLICY: LoadedPolicy = parse_policy(TEXT, "recorded.yaml")
OPENED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ANA = Subject(id="ana", display_name="Ana")


def _case(
    subject: Subject | None,
    *,
    then: Subject = ANA,
    case_id: str = "c1",
    at: datetime = OPENED,
    score: int = 10,
    **extra: object,
) -> RecordedCase:
    risk = RiskAssessment(score=score, band=band_for(POLICY, score), reasons=())
    return RecordedCase(
        case_id=case_id,
        subject_id=then.id,
        opened_at=at,
        channel=Channel.HELPDESK,
        state="completed",
        risk_score=score,
        requirements=select_requirements(POLICY, then, Channel.HELPDESK, risk),
        subject=subject,
        **extra,  # type: ignore[arg-type]
    )


def test_one_replay_serialises_every_field() -> None:
    candidate = parse_policy(
        policy_text.in_tier("contractor", "factors: 1,", "factors: 2,", TEXT), "c.yaml"
    )
    contractor = Subject(id="ana", display_name="Ana", employment=Employment.CONTRACTOR)
    result = replay(candidate, _case(contractor, then=contractor, score=60, recorded_policy=POLICY))
    assert result.to_json() == {
        "case": "c1",
        "subject": "ana",
        "opened_at": "2026-11-20T09:00:00+00:00",
        "channel": "helpdesk",
        "state": "completed",
        "risk_score": 60,
        "policy_hash": POLICY.hash,
        "recorded": {
            "tier": "contractor",
            "outcome": "proofing",
            "reason": "",
            "risk_band": "high",
            "action": "reset_token",
            "factors": 1,
            "methods": ["email_code", "totp"],
            "required_methods": [],
            "phishing_resistant": False,
            "min_ial": None,
            "aal": None,
            "approvals": 1,
            "approver_groups": [],
        },
        "candidate": {
            "tier": "contractor",
            "outcome": "proofing",
            "reason": "",
            "risk_band": "high",
            "action": "reset_token",
            "factors": 2,
            "methods": ["email_code", "totp"],
            "required_methods": [],
            "phishing_resistant": False,
            "min_ial": None,
            "aal": None,
            "approvals": 1,
            "approver_groups": [],
        },
        "effect": "stricter",
        "differences": [{"what": "factors", "before": "1", "after": "2", "direction": "more"}],
        "attributes": "current attributes (a case does not record them)",
        "attributes_drifted": False,
    }


def test_a_subject_no_longer_known_serialises_without_a_candidate() -> None:
    result = replay(POLICY, _case(None))
    assert result.candidate is None
    assert result.effect == Effect.NOT_REPLAYED
    assert result.differences == ()
    assert result.attributes == "the subject is no longer known: not replayed"
    assert result.attributes_drifted is False
    data = result.to_json()
    assert data["candidate"] is None
    assert data["effect"] == "not_replayed"
    recorded = data["recorded"]
    assert isinstance(recorded, dict) and recorded["tier"] == "staff"
    assert data["attributes"] == "the subject is no longer known: not replayed"


def test_holds_then_replace_the_current_holds_only_when_known() -> None:
    held_now = Subject(id="ana", display_name="Ana", holds=frozenset({"legal_hold"}))
    assert _case(held_now).subject_then() is held_now
    assert _case(None, holds_then=frozenset({"x"})).subject_then() is None
    then = _case(held_now, holds_then=frozenset()).subject_then()
    assert then is not None and then.holds == frozenset()
    assert then.id == "ana"


def test_the_attribute_sentence_names_every_reason_to_doubt_in_order() -> None:
    # Ana opened as staff; she is a contractor now, a sync changed two
    # attributes (one a tier attribute), and the hold records are known.
    contractor = Subject(id="ana", display_name="Ana", employment=Employment.CONTRACTOR)
    case = _case(
        contractor,
        changed_since=("owner", "groups", "employment"),
        recorded_policy=POLICY,
        holds_then=frozenset(),
    )
    result = replay(POLICY, case)
    assert result.attributes == (
        "current attributes (a case does not record them); "
        "holds as the hold records show them when the case opened; "
        "a directory sync changed employment, groups after the case opened; "
        "the recorded policy now picks 'contractor', not the recorded 'staff': "
        "the subject's attributes have changed since"
    )
    assert result.attributes_drifted is True
    without_text = replay(POLICY, _case(ANA, changed_since=("owner",)))
    assert without_text.attributes == (
        "current attributes (a case does not record them); "
        "the recorded policy's text is not available to cross-check them"
    )
    assert without_text.attributes_drifted is False


@pytest.mark.parametrize(
    ("changed", "drifted"),
    [
        (("kind",), True),
        (("employment",), True),
        (("privileged",), True),
        (("holds",), True),
        (("groups",), True),
        (("owner", "display_name"), False),
        ((), False),
    ],
)
def test_only_a_tier_attribute_changed_by_a_sync_makes_a_replay_doubtful(
    changed: tuple[str, ...], drifted: bool
) -> None:
    result = replay(POLICY, _case(ANA, changed_since=changed, recorded_policy=POLICY))
    assert result.attributes_drifted is drifted
    assert ("a directory sync changed" in result.attributes) is drifted


def test_the_recorded_policy_picking_the_same_tier_is_no_drift() -> None:
    result = replay(POLICY, _case(ANA, recorded_policy=POLICY))
    assert result.attributes == "current attributes (a case does not record them)"
    assert result.attributes_drifted is False


def _landing(tier: str | None = "t", opening: Opening = Opening.PROOFING) -> Landing:
    return Landing(tier=tier, opening=opening, reason="", risk_band="low")


def _replay(
    effect: Effect,
    *found: tuple[str, Direction],
    before: str | None = "t",
    after: str | None = "t",
    candidate: bool = True,
    drifted: bool = False,
    policy_hash: str = "h1",
    case_id: str = "c",
) -> CaseReplay:
    return CaseReplay(
        case_id=case_id,
        subject_id="s",
        opened_at=OPENED,
        channel="helpdesk",
        state="completed",
        risk_score=0,
        policy_hash=policy_hash,
        recorded=_landing(before),
        candidate=_landing(after) if candidate else None,
        effect=effect,
        differences=tuple(Difference(what, "1", "2", d) for what, d in found),
        attributes="",
        attributes_drifted=drifted,
    )


@pytest.mark.parametrize(
    ("what", "direction", "flags"),
    [
        ("factors", Direction.MORE, (True, False, False, False)),
        ("phishing-resistant", Direction.LESS, (False, True, False, False)),
        ("min IAL", Direction.MORE, (True, False, False, False)),
        ("AAL", Direction.LESS, (False, True, False, False)),
        ("required methods", Direction.MORE, (True, False, False, False)),
        ("required methods", Direction.OTHER, (False, False, False, False)),
        ("methods", Direction.MORE, (False, False, False, False)),
        ("approvals", Direction.MORE, (False, False, True, False)),
        ("approvals", Direction.LESS, (False, False, False, True)),
        ("approver groups", Direction.LESS, (False, False, False, False)),
        ("tier", Direction.OTHER, (False, False, False, False)),
    ],
)
def test_what_counts_as_more_or_less_proofing_and_approvals(
    what: str, direction: Direction, flags: tuple[bool, bool, bool, bool]
) -> None:
    r = _replay(Effect.OTHER, (what, direction))
    assert (r.more_proofing, r.less_proofing, r.more_approvals, r.fewer_approvals) == flags
    assert r.tier_changed is (what == "tier")


def test_the_totals_count_each_kind_of_replay() -> None:
    replays = [
        _replay(Effect.UNCHANGED, policy_hash="h2", case_id="a"),
        _replay(
            Effect.MIXED,
            ("tier", Direction.OTHER),
            ("factors", Direction.MORE),
            ("approvals", Direction.LESS),
            before="a",
            after="b",
            drifted=True,
        ),
        _replay(Effect.STRICTER, ("tier", Direction.OTHER), before="a", after="b"),
        _replay(Effect.LOOSER, ("tier", Direction.OTHER), ("AAL", Direction.LESS), after="a"),
        _replay(Effect.STRICTER, ("approvals", Direction.MORE), drifted=True),
        _replay(Effect.NEWLY_REFUSED, ("outcome", Direction.MORE)),
        _replay(Effect.NO_LONGER_REFUSED, ("outcome", Direction.LESS)),
        _replay(Effect.NOT_REPLAYED, ("tier", Direction.OTHER), candidate=False, policy_hash="h0"),
    ]
    totals = totals_of(iter(replays))
    assert totals.cases == 8
    assert totals.replayed == 7
    assert totals.by_effect == (
        (Effect.UNCHANGED, 1),
        (Effect.NEWLY_REFUSED, 1),
        (Effect.NO_LONGER_REFUSED, 1),
        (Effect.STRICTER, 2),
        (Effect.LOOSER, 1),
        (Effect.MIXED, 1),
        (Effect.OTHER, 0),
        (Effect.NOT_REPLAYED, 1),
    )
    assert totals.tier_changed == 4
    assert (totals.more_proofing, totals.less_proofing) == (1, 1)
    assert (totals.more_approvals, totals.fewer_approvals) == (1, 1)
    assert (totals.newly_refused, totals.no_longer_refused) == (1, 1)
    assert totals.attributes_drifted == 2
    # The replay without a candidate has no transition; pairs sorted.
    assert totals.transitions == (("a", "b", 2), ("t", "a", 1))
    assert totals.recorded_policies == ("h0", "h1", "h2")
    assert json.loads(json.dumps(totals.to_json())) == {
        "cases": 8,
        "replayed": 7,
        "by_effect": {
            "unchanged": 1,
            "newly_refused": 1,
            "no_longer_refused": 1,
            "stricter": 2,
            "looser": 1,
            "mixed": 1,
            "other": 0,
            "not_replayed": 1,
        },
        "tier_changed": 4,
        "more_proofing": 1,
        "less_proofing": 1,
        "more_approvals": 1,
        "fewer_approvals": 1,
        "newly_refused": 1,
        "no_longer_refused": 1,
        "attributes_drifted": 2,
        "transitions": [
            {"from": "a", "to": "b", "cases": 2},
            {"from": "t", "to": "a", "cases": 1},
        ],
        "recorded_policies": ["h0", "h1", "h2"],
    }


def test_the_report_orders_cases_by_time_then_id_and_serialises_its_frame() -> None:
    since, until = OPENED - timedelta(days=1), OPENED + timedelta(days=1)
    candidate = parse_policy(TEXT.replace("version: 3", "version: 4"), "cand.yaml")
    cases = [
        _case(ANA, case_id="b"),
        _case(ANA, case_id="a"),
        _case(ANA, case_id="0", at=OPENED + timedelta(seconds=1)),
        _case(None, case_id="c"),
    ]
    report = simulate(candidate, cases, since=since, until=until)
    assert [c.case_id for c in report.cases] == ["a", "b", "c", "0"]
    assert [c.case_id for c in report.changed] == ["c"]
    assert (report.candidate_source, report.candidate_hash, report.candidate_version) == (
        "cand.yaml",
        candidate.hash,
        4,
    )
    assert (report.since, report.until) == (since, until)
    assert report.totals.cases == 4
    data = report.to_json()
    assert data["candidate"] == {"source": "cand.yaml", "hash": candidate.hash, "version": 4}
    assert data["since"] == "2026-11-19T09:00:00+00:00"
    assert data["until"] == "2026-11-21T09:00:00+00:00"
    assert data["totals"] == report.totals.to_json()
    assert data["cases"] == [c.to_json() for c in report.cases]
