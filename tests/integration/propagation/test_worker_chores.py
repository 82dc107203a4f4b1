"""While work keeps coming, the worker runs its time-driven chores (expiries,
ended holds, lapsed links, anomaly detection) at most once a second instead
of on every pass; an idle pass runs them every time, and no busy stretch
starves them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import World
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.propagation.worker import CHORES_EVERY_S, Worker
from custos.service.recovery import cases


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_chores_run_when_idle_and_once_per_interval_when_busy(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr("custos.propagation.worker.time.monotonic", clock)
    worker = Worker(sqlite_world.svc, owner="chores-test")
    try:
        assert worker._chores_due(busy=True)  # never run yet
        assert not worker._chores_due(busy=True)
        assert worker._chores_due(busy=False)  # idle: every time
        assert worker._chores_due(busy=False)
        clock.now += CHORES_EVERY_S / 2
        assert not worker._chores_due(busy=True)
        clock.now += CHORES_EVERY_S / 2
        assert worker._chores_due(busy=True)
        assert not worker._chores_due(busy=True)
    finally:
        worker.close()


def test_a_busy_pass_skips_the_chores_and_the_next_due_one_runs_them(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case past its lifetime is expired by the first pass that runs the
    chores, not by a busy pass within the interval."""
    world = sqlite_world
    clock = Clock()
    monkeypatch.setattr("custos.propagation.worker.time.monotonic", clock)
    world.subject("dana", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="dana", reason="caller"
    )
    worker = Worker(world.svc, owner="chores-test")
    try:
        worker._housekeeping(chores=worker._chores_due(busy=True))
        world.clock.advance(timedelta(days=30))
        worker._housekeeping(chores=worker._chores_due(busy=True))
        with world.svc.uow(read_only=True) as uow:
            assert uow.cases.get(case.id).state == CaseState.PROOFING
        clock.now += CHORES_EVERY_S
        assert worker._housekeeping(chores=worker._chores_due(busy=True)) >= 1
        with world.svc.uow(read_only=True) as uow:
            assert uow.cases.get(case.id).state == CaseState.EXPIRED
    finally:
        worker.close()
