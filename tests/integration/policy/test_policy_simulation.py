"""``policy simulate`` through the service, on SQLite and PostgreSQL: real cases
opened under the shipped default policy, replayed under a stricter and a looser
candidate, case by case and in totals; the period's bounds; an invalid candidate
refused with its lines; and nothing changed by any of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from simulation_world import (
    DEFAULT_TEXT,
    LOOSER,
    STRICTER,
    assert_unchanged,
    seed_cases,
    snapshot,
)

from conftest import World
from custos.domain.errors import InvalidInput, NotAuthorized
from custos.domain.model import Employment, Role
from custos.policy.engine import Opening
from custos.policy.landing import Direction, Effect
from custos.policy.loader import PolicyError
from custos.policy.simulate import SimulationReport
from custos.service.holds.commands import lift_hold, place_hold
from custos.service.policy import simulation
from custos.service.policy.simulation import candidate_text, simulate_in_console, simulate_period


def run(world: World, text: str, *, days: int = 30) -> SimulationReport:
    now = world.clock.now()
    candidate = candidate_text(world.svc, text, "candidate.yaml")
    return simulate_period(world.svc, candidate, since=now - timedelta(days=days), until=now)


def test_a_stricter_candidate_asks_more_of_employees_and_refuses_contractors(
    world: World,
) -> None:
    opened = seed_cases(world)
    report = run(world, STRICTER)
    cases = {c.subject_id: c for c in report.cases}
    # Olga's case is 40 days old: outside the period.
    assert list(cases) == ["alice", "bob", "carol", "dave", "erin"]
    assert {c.case_id for c in report.cases} == {opened[n] for n in cases}

    alice = cases["alice"]
    assert (alice.recorded.tier, alice.recorded.factors, alice.recorded.approvals) == (
        "standard",
        1,
        0,
    )
    assert alice.candidate is not None
    assert (alice.candidate.tier, alice.candidate.factors, alice.candidate.approvals) == (
        "standard",
        2,
        1,
    )
    assert alice.effect == Effect.STRICTER
    assert [str(d) for d in alice.differences] == ["factors 1 → 2", "approvals 0 → 1"]

    bob = cases["bob"]
    assert bob.candidate is not None
    assert bob.candidate.opening == Opening.CHANNEL_REFUSED
    assert bob.candidate.reason == "channel 'helpdesk' is not allowed for tier 'contractor'"
    assert bob.effect == Effect.NEWLY_REFUSED

    for name in ("carol", "dave", "erin"):
        assert cases[name].effect == Effect.UNCHANGED, name
    assert cases["dave"].recorded.opening == Opening.HELD
    assert cases["carol"].recorded.approvals == 2

    totals = report.totals
    assert (totals.cases, totals.replayed) == (5, 5)
    assert dict(totals.by_effect) == {
        Effect.UNCHANGED: 3,
        Effect.NEWLY_REFUSED: 1,
        Effect.NO_LONGER_REFUSED: 0,
        Effect.STRICTER: 1,
        Effect.LOOSER: 0,
        Effect.MIXED: 0,
        Effect.OTHER: 0,
        Effect.NOT_REPLAYED: 0,
    }
    assert (totals.more_proofing, totals.more_approvals, totals.newly_refused) == (1, 1, 1)
    assert (totals.less_proofing, totals.fewer_approvals, totals.tier_changed) == (0, 0, 0)
    assert totals.recorded_policies == (world.svc.policy.hash,)
    # The subjects did not change since: every replay says it used the current
    # attributes, and the recorded policy confirms each recorded tier.
    assert totals.attributes_drifted == 0
    assert all(c.attributes.startswith("current attributes") for c in report.cases)


def test_a_looser_candidate_drops_an_approval_but_frees_no_held_subject(
    world: World,
) -> None:
    seed_cases(world)
    report = run(world, LOOSER)
    cases = {c.subject_id: c for c in report.cases}

    dave = cases["dave"]
    assert dave.candidate is not None
    # Without the frozen tier Dave lands in standard, but his hold still blocks
    # the case: holds stand outside the tiers (docs/holds.md).
    assert (dave.recorded.tier, dave.candidate.tier) == ("frozen", "standard")
    assert dave.candidate.opening == Opening.HELD
    assert dave.effect == Effect.OTHER

    bob = cases["bob"]
    assert bob.effect == Effect.LOOSER
    assert [(d.what, d.before, d.after, d.direction) for d in bob.differences] == [
        ("approvals", "1", "0", Direction.LESS)
    ]

    for name in ("alice", "carol", "erin"):
        assert cases[name].effect == Effect.UNCHANGED, name
    totals = report.totals
    assert (totals.no_longer_refused, totals.fewer_approvals, totals.tier_changed) == (0, 1, 1)
    assert (totals.newly_refused, totals.more_proofing, totals.more_approvals) == (0, 0, 0)
    assert totals.transitions == (("frozen", "standard", 1),)
    assert [c.subject_id for c in report.changed] == ["bob", "dave"]


def test_a_simulation_changes_nothing(world: World) -> None:
    """It reads the ledger and the cases in a read-only transaction and writes
    no row and no ledger entry, whatever the candidate."""
    seed_cases(world)
    before = snapshot(world)
    for text in (STRICTER, LOOSER, DEFAULT_TEXT):
        run(world, text)
    with pytest.raises(PolicyError):
        run(world, "version: 1\n")
    assert_unchanged(before, world)


def test_the_period_takes_its_start_and_leaves_out_its_end(world: World) -> None:
    opened = seed_cases(world)
    now = world.clock.now()
    candidate = candidate_text(world.svc, DEFAULT_TEXT, "same.yaml")
    # A 50-day period reaches olga's case too.
    assert run(world, DEFAULT_TEXT, days=50).totals.cases == 6
    # alice opened 110 minutes before now, bob 100, carol 90, dave 80, erin 70:
    # the start is taken, the end left out.
    window = simulate_period(
        world.svc,
        candidate,
        since=now - timedelta(minutes=90),
        until=now - timedelta(minutes=70),
    )
    assert [c.case_id for c in window.cases] == [opened["carol"], opened["dave"]]


def test_an_invalid_candidate_is_refused_with_its_lines_before_anything_runs(
    world: World,
) -> None:
    seed_cases(world)
    broken = DEFAULT_TEXT.replace("  case_ttl: 24h", "  case_ttl: 24h\n  colour: blue")
    line = DEFAULT_TEXT[: DEFAULT_TEXT.index("  case_ttl: 24h")].count("\n") + 2
    with pytest.raises(PolicyError) as caught:
        candidate_text(world.svc, broken, "candidate.yaml")
    assert caught.value.error_id == "policy_invalid"
    assert [str(p) for p in caught.value.problems] == [
        f"candidate.yaml:{line}: defaults: unknown key 'colour'"
    ]


def test_a_subject_whose_attributes_changed_is_flagged_on_its_case(world: World) -> None:
    """A case records no subject attributes: Erin's case opened when she had no
    employment record (catch-all); she is an employee now. The replay uses her
    current attributes, and says the recorded policy now picks another tier."""
    opened = seed_cases(world)
    with world.svc.uow() as uow:
        erin = uow.subjects.get("erin")
        assert erin is not None
        erin.employment = Employment.EMPLOYEE
        uow.subjects.update(erin, now=world.clock.now())
        uow.commit()
    report = run(world, DEFAULT_TEXT)
    case = next(c for c in report.cases if c.case_id == opened["erin"])
    assert case.attributes_drifted
    assert (
        "the recorded policy now picks 'standard', not the recorded 'catch-all'" in case.attributes
    )
    assert case.candidate is not None and case.candidate.tier == "standard"
    assert report.totals.attributes_drifted == 1


def test_a_period_with_too_many_cases_is_refused_not_cut(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_cases(world)
    monkeypatch.setattr(simulation, "MAX_CASES", 4)
    with pytest.raises(
        InvalidInput, match="the period holds 5 cases; a simulation replays at most 4"
    ):
        run(world, DEFAULT_TEXT)


def test_the_console_simulation_is_for_admins_only(world: World) -> None:
    seed_cases(world)
    world.operator("margaret", Role.ADMIN)
    world.operator("ada", Role.AUDITOR, Role.APPROVER)
    with pytest.raises(NotAuthorized):
        simulate_in_console(
            world.svc,
            world.operators["ada"],
            text=STRICTER,
            source="pasted",
            since="30d",
            until=None,
        )
    report = simulate_in_console(
        world.svc,
        world.operators["margaret"],
        text=STRICTER,
        source="pasted",
        since="30d",
        until="",
    )
    assert report.totals.cases == 5
    with pytest.raises(InvalidInput, match="paste a candidate policy or choose its file"):
        simulate_in_console(
            world.svc,
            world.operators["margaret"],
            text=" \n",
            source="pasted",
            since=None,
            until=None,
        )


def test_holds_are_replayed_as_they_stood_when_each_case_opened(world: World) -> None:
    """Holds are records with their times. Dave's hold was lifted after his
    case opened, and Alice was held after hers: each case is replayed with the
    holds of its own moment, not those of today."""
    opened = seed_cases(world)
    world.operator("sec", Role.APPROVER, groups=("security-approvers",))
    with world.svc.uow(read_only=True) as uow:
        (held,) = uow.holds.search(now=world.clock.now(), subject_ids=["dave"])
    lift_hold(world.svc, world.operators["sec"], held.id, reason="released by legal")
    with world.svc.uow() as uow:
        place_hold(
            uow,
            kind="incident_freeze",
            subject_id="alice",
            group=None,
            reason="phishing wave",
            ticket="INC-7",
            set_by="system:test",
            set_by_person=None,
            now=world.clock.now(),
        )
        uow.commit()
    with world.svc.uow(read_only=True) as uow:
        assert uow.subjects.get("dave").holds == frozenset()  # type: ignore[union-attr]
        assert uow.subjects.get("alice").holds == {"incident_freeze"}  # type: ignore[union-attr]

    report = run(world, DEFAULT_TEXT)
    cases = {c.case_id: c for c in report.cases}
    dave, alice = cases[opened["dave"]], cases[opened["alice"]]
    assert (dave.recorded.opening, dave.effect) == (Opening.HELD, Effect.UNCHANGED)
    assert dave.candidate is not None and dave.candidate.tier == "frozen"
    assert (alice.recorded.opening, alice.effect) == (Opening.PROOFING, Effect.UNCHANGED)
    assert alice.candidate is not None and alice.candidate.opening == Opening.PROOFING
    for case in (dave, alice):
        assert "holds as the hold records show them when the case opened" in case.attributes
        assert not case.attributes_drifted
