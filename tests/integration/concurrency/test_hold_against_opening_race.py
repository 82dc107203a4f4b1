"""A hold set at the very moment a case opens for its subject, on PostgreSQL.

Both transactions run under READ COMMITTED there: without an order between
them, the opening read no standing hold, the hold blocked the cases it could
see (not the uncommitted one), and the case stood open under the hold until a
later action refused. Each test pauses one transaction at its worst point,
lets the other run into it, and checks that the case ends up blocked.

PostgreSQL only: on SQLite a writing transaction holds the database's write
lock from its first statement (``BEGIN IMMEDIATE``), so the two never overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from conftest import World, _world
from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.ledger import policies
from custos.service.holds import case_effects, commands
from custos.service.recovery import cases, opening

#: How long a paused transaction or a waiting thread may take before the test
#: gives up (a hang guard, not a measurement).
PATIENCE_S = 60.0


@pytest.fixture
def pg_world(tmp_path: Path) -> Iterator[World]:
    yield from _world("postgres", tmp_path)


class Pause:
    """Wraps a function so that the first call runs it, says so, then waits."""

    def __init__(self, inner: Callable[..., Any], *, before: bool) -> None:
        self.inner, self.before = inner, before
        self.reached, self.go = threading.Event(), threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.before:
            self._hold()
        result = self.inner(*args, **kwargs)
        if not self.before:
            self._hold()
        return result

    def _hold(self) -> None:
        if self.reached.is_set():
            return
        self.reached.set()
        if not self.go.wait(PATIENCE_S):
            raise TimeoutError("the test never released the paused transaction")


class Racer(threading.Thread):
    """Runs ``work`` in a thread of its own, keeping its result or error."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # reported by the test
            self.error = exc


def _waiting_on_a_lock(world: World) -> bool:
    """Whether a transaction of this world's database waits for a lock (the
    standing lock with the order; without it, the ledger's append lock)."""
    with world.svc.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def _until_waiting_or_done(world: World, racer: Racer) -> None:
    """Until ``racer`` waits for a lock or has finished."""
    deadline = time.monotonic() + PATIENCE_S
    while racer.is_alive() and not _waiting_on_a_lock(world):
        if time.monotonic() > deadline:
            raise TimeoutError("the racing transaction neither waited nor finished")
        time.sleep(0.01)


def _setup(world: World) -> None:
    world.subject("dana", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))


def _open(world: World) -> Callable[[], Any]:
    return lambda: cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="dana", reason="caller"
    )


def _hold(world: World) -> Callable[[], Any]:
    return lambda: commands.set_hold(
        world.svc,
        world.operators["ada"],
        kind="legal_hold",
        subject_id="dana",
        reason="matter 12",
        ticket="LEG-12",
    )


def _the_case(world: World) -> CaseState:
    with world.svc.uow(read_only=True) as uow:
        (case_id,) = uow.cases.ids_under_hold(set(CaseState), subject_id="dana", group=None)
        state: CaseState = uow.cases.get(case_id).state
        return state


def _race(
    world: World, pause: Pause, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Racer, Racer]:
    """``first`` until ``pause`` holds it, then ``second`` until it waits for a
    lock or is done, then ``first`` released; both racers, finished."""
    ahead = Racer(first)
    ahead.start()
    assert pause.reached.wait(PATIENCE_S)
    behind = Racer(second)
    behind.start()
    _until_waiting_or_done(world, behind)
    pause.go.set()
    ahead.join(PATIENCE_S)
    behind.join(PATIENCE_S)
    return ahead, behind


def test_a_hold_set_while_a_case_opens_blocks_that_case(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The opening read no hold and stops just before it commits; the hold set
    now must wait for it and then block the case it opened."""
    world = pg_world
    _setup(world)
    pause = Pause(policies.remember_policy, before=True)  # after the holds are read
    monkeypatch.setattr(opening, "remember_policy", pause)
    opener, setter = _race(world, pause, _open(world), _hold(world))
    assert opener.error is None and setter.error is None, (opener.error, setter.error)
    assert setter.result.cases_blocked == (opener.result.id,)
    assert _the_case(world) == CaseState.BLOCKED


def test_a_case_opening_while_a_hold_is_set_opens_blocked(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hold has blocked the cases it could see and stops just before it
    commits; a case opening now must wait for it, see it and open blocked."""
    world = pg_world
    _setup(world)
    pause = Pause(case_effects.block_cases, before=False)
    monkeypatch.setattr(case_effects, "block_cases", pause)
    setter, opener = _race(world, pause, _hold(world), _open(world))
    assert setter.error is None, setter.error
    assert setter.result.cases_blocked == ()
    assert isinstance(opener.error, RecoveryBlocked), opener.error
    assert _the_case(world) == CaseState.BLOCKED
