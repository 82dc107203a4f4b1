"""The comparison behind ``custos policy simulate``: recorded cases replayed
under a candidate policy through the real engine, case by case and in totals."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import policy_text
import pytest

from custos.domain.model import (
    Channel,
    Employment,
    Hold,
    Requirements,
    RiskAssessment,
    Subject,
    SubjectKind,
)
from custos.policy.engine import Opening, band_for, select_requirements
from custos.policy.landing import NO_TIER, Direction, Effect
from custos.policy.loader import LoadedPolicy, parse_policy
from custos.policy.simulate import RecordedCase, SimulationReport, simulate

BASE = """\
version: 1
risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}
tiers:
  - name: frozen
    match: {holds: [legal_hold]}
    action: block
  - name: privileged
    match: {privileged: true}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 2, methods: [webauthn, totp, email_code], phishing_resistant: true}
    approvals: {count: 2, from_groups: [security]}
    action: reset_token
    token_ttl: 10m
    post_checks: [sessions_revoked]
  - name: contractor
    match: {kind: human, employment: contractor}
    risk_analysis: RA-1
    channels: [self_service, helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    approvals: {count: 1}
    action: reset_token
    token_ttl: 15m
  - name: standard
    match: {kind: human, employment: employee}
    risk_analysis: RA-1
    channels: [self_service, helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    step_up: {medium: {factors: 2}}
    action: reset_token
    token_ttl: 15m
  - name: catch-all
    match: {}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    approvals: {count: 1}
    action: reset_token
    token_ttl: 15m
"""
RECORDED: LoadedPolicy = parse_policy(BASE, "base.yaml")
OPENED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SINCE, UNTIL = OPENED - timedelta(days=30), OPENED + timedelta(days=1)


def person(subject_id: str, **attrs: object) -> Subject:
    return Subject(id=subject_id, display_name=subject_id, **attrs)  # type: ignore[arg-type]


def recorded_case(
    subject: Subject | None,
    *,
    subject_id: str = "",
    score: int = 15,
    channel: Channel = Channel.HELPDESK,
    at: datetime = OPENED,
    opened_as: Subject | None = None,
    changed_since: tuple[str, ...] = (),
    recorded_policy: LoadedPolicy | None = RECORDED,
    case_id: str | None = None,
) -> RecordedCase:
    """A case as open_case would have frozen it under RECORDED, for
    ``opened_as`` (the subject as it was then; default: as it is now)."""
    then = opened_as or subject
    assert then is not None
    risk = RiskAssessment(score=score, band=band_for(RECORDED, score), reasons=())
    req: Requirements = select_requirements(RECORDED, then, channel, risk)
    sid = subject_id or then.id
    return RecordedCase(
        case_id=case_id or f"case-{sid}",
        subject_id=sid,
        opened_at=at,
        channel=channel,
        state="completed",
        risk_score=score,
        requirements=req,
        subject=subject,
        changed_since=changed_since,
        recorded_policy=recorded_policy,
    )


def run(candidate_text: str, *cases: RecordedCase) -> SimulationReport:
    candidate = parse_policy(candidate_text, "candidate.yaml")
    return simulate(candidate, cases, since=SINCE, until=UNTIL)


def edited(old: str, new: str, text: str = BASE) -> str:
    return policy_text.edited(old, new, text)


def in_tier(name: str, old: str, new: str, text: str = BASE) -> str:
    return policy_text.in_tier(name, old, new, text)


ALICE = person("alice")
BOB = person("bob", employment=Employment.CONTRACTOR)
CAROL = person("carol", privileged=True)
DAVE = person("dave", holds=frozenset({Hold.LEGAL_HOLD}))
ERIN = person("erin", employment=Employment.NONE)


def test_the_recorded_policy_itself_changes_nothing() -> None:
    report = run(BASE, *(recorded_case(s) for s in (ALICE, BOB, CAROL, DAVE, ERIN)))
    assert [c.effect for c in report.cases] == [Effect.UNCHANGED] * 5
    assert all(c.differences == () for c in report.cases)
    assert report.changed == ()
    totals = report.totals
    assert (totals.cases, totals.replayed, totals.tier_changed, totals.attributes_drifted) == (
        5,
        5,
        0,
        0,
    )
    assert dict(totals.by_effect)[Effect.UNCHANGED] == 5
    assert totals.transitions == ()
    # Where it landed is read from the frozen requirements, blocked case included.
    # Dave is held: a hold blocks the case whatever its tier (the frozen one here).
    dave = next(c for c in report.cases if c.subject_id == "dave")
    assert (dave.recorded.tier, dave.recorded.opening) == ("frozen", Opening.HELD)
    assert dave.recorded.reason == "held: legal_hold"


def test_every_replay_says_it_used_the_current_attributes() -> None:
    (replay,) = run(BASE, recorded_case(ALICE)).cases
    assert replay.attributes == "current attributes (a case does not record them)"
    assert not replay.attributes_drifted


def test_a_stricter_tier_needs_more_proofing_and_approvals() -> None:
    stricter = in_tier("standard", "    step_up:", "    approvals: {count: 1}\n    step_up:")
    stricter = in_tier("standard", "factors: 1,", "factors: 2,", stricter)
    report = run(stricter, recorded_case(ALICE), recorded_case(BOB))
    alice, bob = sorted(report.cases, key=lambda c: c.subject_id)
    assert alice.effect == Effect.STRICTER
    assert [str(d) for d in alice.differences] == ["factors 1 → 2", "approvals 0 → 1"]
    assert {d.direction for d in alice.differences} == {Direction.MORE}
    assert alice.more_proofing and alice.more_approvals
    assert not (alice.less_proofing or alice.fewer_approvals or alice.tier_changed)
    assert bob.effect == Effect.UNCHANGED
    totals = report.totals
    assert (totals.more_proofing, totals.more_approvals, totals.less_proofing) == (1, 1, 0)
    assert dict(totals.by_effect)[Effect.STRICTER] == 1
    assert report.changed == (alice,)


def test_fewer_approvals_is_looser_and_more_and_less_is_mixed() -> None:
    looser = in_tier("contractor", "    approvals: {count: 1}\n", "")
    (bob,) = run(looser, recorded_case(BOB)).cases
    assert bob.effect == Effect.LOOSER
    assert [str(d) for d in bob.differences] == ["approvals 1 → 0"]
    assert bob.fewer_approvals and not bob.more_approvals

    mixed = in_tier("contractor", "    approvals: {count: 1}\n", "")
    mixed = in_tier("contractor", "factors: 1", "factors: 2", mixed)
    (bob,) = run(mixed, recorded_case(BOB)).cases
    assert bob.effect == Effect.MIXED
    assert bob.more_proofing and bob.fewer_approvals


def test_a_block_tier_refuses_cases_that_went_on() -> None:
    blocking = edited(
        "  - name: contractor\n",
        "  - name: no-contractors\n    match: {employment: contractor}\n    action: block\n"
        "  - name: contractor\n",
    )
    report = run(blocking, recorded_case(BOB), recorded_case(ALICE))
    bob = next(c for c in report.cases if c.subject_id == "bob")
    assert bob.effect == Effect.NEWLY_REFUSED
    assert bob.candidate is not None
    assert (bob.candidate.tier, bob.candidate.opening) == ("no-contractors", Opening.BLOCKED)
    assert [str(d) for d in bob.differences] == [
        "tier contractor → no-contractors",
        "goes on to proofing → blocked",
    ]
    # A refused case asks for nothing, so no proofing or approval difference is claimed.
    assert not (bob.less_proofing or bob.fewer_approvals)
    assert report.totals.newly_refused == 1
    assert report.totals.transitions == (("contractor", "no-contractors", 1),)


def test_a_channel_the_candidate_opens_lets_a_refused_case_proceed() -> None:
    # Erin asked on her own (self-service); the catch-all tier takes the help desk only.
    recorded = recorded_case(ERIN, channel=Channel.SELF_SERVICE)
    assert recorded.requirements.tier == "catch-all"
    opened = in_tier("catch-all", "channels: [helpdesk]", "channels: [helpdesk, self_service]")
    (erin,) = run(opened, recorded).cases
    assert erin.recorded.opening == Opening.CHANNEL_REFUSED
    assert erin.effect == Effect.NO_LONGER_REFUSED
    assert [str(d) for d in erin.differences] == ["refused for its channel → goes on to proofing"]
    assert erin.differences[0].to_json() == {
        "what": "outcome",
        "before": "channel_refused",
        "after": "proofing",
        "direction": "less",
    }


def test_a_held_subject_stays_blocked_whatever_the_candidate() -> None:
    """A hold blocks a case before any tier counts (docs/holds.md): dropping the
    frozen tier moves Dave to another tier, never out of the hold."""
    unfrozen = edited("  - name: frozen\n    match: {holds: [legal_hold]}\n    action: block\n", "")
    (dave,) = run(unfrozen, recorded_case(DAVE)).cases
    assert dave.candidate is not None
    assert (dave.candidate.tier, dave.candidate.opening) == ("standard", Opening.HELD)
    assert [str(d) for d in dave.differences] == ["tier frozen → standard"]
    assert dave.effect == Effect.OTHER


def test_holds_are_replayed_as_they_stood_when_the_case_opened() -> None:
    """Holds are records with their times: the replay takes those of the case's
    moment, not the subject's holds now, and says so."""
    # Held then, lifted since: still blocked in the replay.
    lifted = recorded_case(ALICE, opened_as=DAVE, subject_id="alice")
    held_then = replace(lifted, holds_then=frozenset({"legal_hold"}))
    (case,) = run(BASE, held_then).cases
    assert case.recorded.opening == Opening.HELD
    assert case.candidate is not None and case.candidate.opening == Opening.HELD
    assert case.effect == Effect.UNCHANGED
    assert case.attributes == (
        "current attributes (a case does not record them); "
        "holds as the hold records show them when the case opened"
    )
    # Held now, not then: the replay goes on to proofing as the case did.
    placed_since = replace(recorded_case(DAVE, opened_as=ALICE), holds_then=frozenset())
    (case,) = run(BASE, placed_since).cases
    assert case.recorded.opening == Opening.PROOFING
    assert case.candidate is not None and case.candidate.tier == "standard"
    assert case.effect == Effect.UNCHANGED and not case.attributes_drifted


def test_the_candidates_own_risk_bands_read_the_recorded_score() -> None:
    """A score of 45 was medium; the candidate calls it high and refuses there."""
    candidate = edited(
        "risk_bands: {low: [0, 39], medium: [40, 69], high: [70, 100]}",
        "risk_bands: {low: [0, 29], high: [30, 100]}",
        edited(
            "    step_up: {medium: {factors: 2}}\n",
            "    step_up: {high: {refuse: true, reason: too risky}}\n",
        ),
    )
    (alice,) = run(candidate, recorded_case(ALICE, score=45)).cases
    assert alice.recorded.risk_band == "medium"
    assert alice.candidate is not None
    assert (alice.candidate.risk_band, alice.candidate.opening) == ("high", Opening.RISK_REFUSED)
    assert alice.candidate.reason == "too risky"
    assert alice.effect == Effect.NEWLY_REFUSED


def test_a_channel_the_candidate_no_longer_allows_refuses_the_case() -> None:
    candidate = in_tier("standard", "[self_service, helpdesk]", "[self_service]")
    (alice,) = run(candidate, recorded_case(ALICE)).cases
    assert alice.candidate is not None
    assert alice.candidate.opening == Opening.CHANNEL_REFUSED
    assert alice.candidate.reason == "channel 'helpdesk' is not allowed for tier 'standard'"
    assert alice.effect == Effect.NEWLY_REFUSED
    assert not alice.tier_changed


def test_a_subject_no_candidate_tier_describes_is_refused() -> None:
    without_catch_all = BASE[: BASE.index("  - name: catch-all")]
    report = run(without_catch_all, recorded_case(ERIN))
    (erin,) = report.cases
    assert erin.candidate is not None
    assert (erin.candidate.tier, erin.candidate.opening) == (None, Opening.NO_TIER)
    assert "no policy tier matches subject 'erin'" in erin.candidate.reason
    assert erin.effect == Effect.NEWLY_REFUSED
    assert report.totals.transitions == (("catch-all", NO_TIER, 1),)


def test_a_renamed_tier_changes_tier_only() -> None:
    (alice,) = run(edited("name: standard", "name: employees"), recorded_case(ALICE)).cases
    assert alice.effect == Effect.OTHER
    assert alice.tier_changed
    assert [str(d) for d in alice.differences] == ["tier standard → employees"]


def test_privileged_subjects_keep_two_approvers_whatever_tier_the_candidate_picks() -> None:
    """R-32: the candidate drops its privileged tier; the engine (not a second
    implementation) still asks two approvers of a privileged subject."""
    start = BASE.index("  - name: privileged")
    without = BASE[:start] + BASE[BASE.index("  - name: contractor") :]
    (carol,) = run(without, recorded_case(CAROL)).cases
    assert carol.candidate is not None
    assert carol.candidate.tier == "standard"
    assert carol.candidate.approvals == 2
    assert carol.less_proofing  # factors 2 -> 1 and no phishing resistance
    assert not carol.fewer_approvals
    assert carol.effect == Effect.LOOSER


def test_attributes_that_moved_since_the_case_are_named() -> None:
    # Alice opened her case as an employee; she is a contractor now.
    now_contractor = person("alice", employment=Employment.CONTRACTOR)
    drifted = recorded_case(now_contractor, opened_as=ALICE)
    (alice,) = run(BASE, drifted).cases
    assert alice.attributes_drifted
    assert "the recorded policy now picks 'contractor', not the recorded 'standard'" in (
        alice.attributes
    )
    # Even under the recorded policy itself, the replay answers for the current
    # attributes: the contractor tier, with its approver. The note says why.
    assert [str(d) for d in alice.differences] == [
        "tier standard → contractor",
        "approvals 0 → 1",
    ]
    assert alice.effect == Effect.STRICTER


def test_a_sync_that_changed_a_tier_attribute_is_named() -> None:
    synced = recorded_case(ALICE, changed_since=("groups", "owner"))
    (alice,) = run(BASE, synced).cases
    assert alice.attributes_drifted
    assert "a directory sync changed groups after the case opened" in alice.attributes
    # An attribute no tier matches on (owner) is no reason to doubt the replay.
    (alice,) = run(BASE, recorded_case(ALICE, changed_since=("owner",))).cases
    assert not alice.attributes_drifted
    assert "sync" not in alice.attributes


def test_without_the_recorded_policy_text_the_replay_says_so() -> None:
    (alice,) = run(BASE, recorded_case(ALICE, recorded_policy=None)).cases
    assert "the recorded policy's text is not available to cross-check them" in alice.attributes


def test_a_case_whose_subject_is_gone_is_not_replayed() -> None:
    gone = recorded_case(None, subject_id="ghost", opened_as=person("ghost"))
    report = run(BASE, gone)
    (ghost,) = report.cases
    assert ghost.effect == Effect.NOT_REPLAYED
    assert ghost.candidate is None
    assert report.totals.replayed == 0
    assert report.changed == (ghost,)


def test_the_report_lists_cases_oldest_first_and_serialises() -> None:
    later = recorded_case(ALICE, at=OPENED + timedelta(hours=2), case_id="case-b")
    earlier = recorded_case(BOB, at=OPENED, case_id="case-a")
    candidate = edited("name: standard", "name: employees")
    report = run(candidate, later, earlier)
    assert [c.case_id for c in report.cases] == ["case-a", "case-b"]
    data = json.loads(json.dumps(report.to_json()))
    assert data["candidate"]["source"] == "candidate.yaml"
    assert data["candidate"]["hash"].startswith("sha256:")
    assert data["totals"]["cases"] == 2
    assert data["totals"]["by_effect"] == {
        "unchanged": 1,
        "newly_refused": 0,
        "no_longer_refused": 0,
        "stricter": 0,
        "looser": 0,
        "mixed": 0,
        "other": 1,
        "not_replayed": 0,
    }
    assert data["totals"]["transitions"] == [{"from": "standard", "to": "employees", "cases": 1}]
    assert data["totals"]["recorded_policies"] == [RECORDED.hash]
    alice = data["cases"][1]
    assert alice["recorded"]["tier"] == "standard"
    assert alice["candidate"]["tier"] == "employees"
    assert alice["differences"] == [
        {"what": "tier", "before": "standard", "after": "employees", "direction": "other"}
    ]


@pytest.mark.parametrize("kind", [SubjectKind.SERVICE, SubjectKind.SHARED])
def test_non_human_subjects_replay_through_the_catch_all(kind: SubjectKind) -> None:
    (case,) = run(BASE, recorded_case(person("svc", kind=kind))).cases
    assert case.recorded.tier == "catch-all"
    assert case.effect == Effect.UNCHANGED


def test_methods_groups_and_action_differ_without_being_more_or_less() -> None:
    candidate = in_tier("standard", "[totp, email_code]", "[totp, webauthn]")
    candidate = in_tier(
        "contractor", "{count: 1}", "{count: 1, from_groups: [sponsors]}", candidate
    )
    candidate = in_tier("contractor", "action: reset_token", "action: temp_password", candidate)
    report = run(candidate, recorded_case(ALICE), recorded_case(BOB))
    alice, bob = sorted(report.cases, key=lambda c: c.subject_id)
    assert [str(d) for d in alice.differences] == ["methods +webauthn -email_code"]
    assert alice.differences[0].to_json() == {
        "what": "methods",
        "before": "email_code, totp",
        "after": "totp, webauthn",
        "direction": "other",
    }
    assert alice.effect == Effect.OTHER
    assert [str(d) for d in bob.differences] == [
        "approver groups +sponsors",
        "action reset_token → temp_password",
    ]
    assert bob.effect == Effect.OTHER
    assert dict(report.totals.by_effect)[Effect.OTHER] == 2


def test_a_refuse_tier_refuses_with_its_instructions() -> None:
    candidate = edited(
        "  - name: contractor\n",
        "  - name: contractors-call-security\n    match: {employment: contractor}\n"
        "    action: refuse\n    instructions: Call the security desk.\n"
        "  - name: contractor\n",
    )
    (bob,) = run(candidate, recorded_case(BOB)).cases
    assert bob.candidate is not None
    assert bob.candidate.opening == Opening.TIER_REFUSED
    assert bob.candidate.reason == (
        "tier 'contractors-call-security' refuses recovery here: Call the security desk."
    )
    assert bob.effect == Effect.NEWLY_REFUSED
    assert "goes on to proofing → refused by its tier" in [str(d) for d in bob.differences]


def test_a_method_that_must_pass_asks_more_proofing() -> None:
    """``proofing.required`` (a sponsor's attestation that must pass) and a
    ``reproof`` tier's re-proofing are more proofing; dropping them is less."""
    text = in_tier(
        "contractor",
        "proofing: {factors: 1, methods: [totp, email_code]}",
        "proofing: {factors: 1, methods: [totp, email_code, manager_attestation]}",
    )
    attested = in_tier(
        "contractor",
        "manager_attestation]}",
        "manager_attestation], required: [manager_attestation]}",
        text,
    )
    recorded = parse_policy(text, "recorded.yaml")
    risk = RiskAssessment(score=15, band="low", reasons=())
    case = RecordedCase(
        case_id="case-bob",
        subject_id="bob",
        opened_at=OPENED,
        channel=Channel.HELPDESK,
        state="completed",
        risk_score=15,
        requirements=select_requirements(recorded, BOB, Channel.HELPDESK, risk),
        subject=BOB,
        recorded_policy=recorded,
    )
    (bob,) = simulate(
        parse_policy(attested, "attested.yaml"), [case], since=SINCE, until=UNTIL
    ).cases
    assert [str(d) for d in bob.differences] == ["required methods +manager_attestation"]
    assert bob.more_proofing and bob.effect == Effect.STRICTER

    reproof = in_tier(
        "standard",
        "proofing: {factors: 1, methods: [totp, email_code]}",
        "proofing: {factors: 1, methods: [totp, email_code, reproofing]}",
    )
    reproof = in_tier("standard", "action: reset_token", "action: reproof", reproof)
    (alice,) = run(reproof, recorded_case(ALICE)).cases
    assert [str(d) for d in alice.differences] == [
        "required methods +reproofing",
        "methods +reproofing",
        "action reset_token → reproof",
    ]
    assert alice.effect == Effect.STRICTER
