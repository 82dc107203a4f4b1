"""The propagation worker against the built-in directory and connectors that
fail on purpose: retries with backoff, needs_attention when attempts run out,
operator retry, leases that outlive a dead worker, and SKIP LOCKED claims."""

from __future__ import annotations

from datetime import timedelta

import pytest
from recoveries import self_service_recovery

from conftest import World
from custos.connectors.builtin import BuiltinDirectory
from custos.connectors.errors import ConnectionFailed, PasswordPolicy
from custos.domain.errors import AlreadyDecided
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.propagation.worker import Worker
from custos.service.recovery import cases
from custos.store.receipt_repository import ReceiptState
from custos.store.tables import linked_accounts

PASSWORD = "saffron-kettle-glacier-19-drum"


class Flaky(BuiltinDirectory):
    """A built-in directory that fails its next ``failures`` password writes."""

    def __init__(self, name: str, world: World, failures: int, error: Exception) -> None:
        super().__init__(name, world.svc.engine)
        self.failures = failures
        self.error = error
        self.calls = 0

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return super().set_password(account_id, password, must_change=must_change)


def _cloud(world: World, failures: int, error: Exception) -> Flaky:
    flaky = Flaky("cloud", world, failures, error)
    world.svc.registry.register("cloud", flaky, kind="builtin")
    return flaky


def _two_target_subject(world: World, subject_id: str) -> None:
    world.subject(subject_id)
    BuiltinDirectory("cloud", world.svc.engine).create_account(subject_id, "x" * 20)
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(
                target="cloud", account_id=subject_id, subject_id=subject_id
            )
        )
        uow.commit()


def _redeemed_case(world: World, subject_id: str) -> str:
    return self_service_recovery(world, subject_id, password=PASSWORD)


def _state(world: World, case_id: str) -> str:
    with world.svc.uow() as uow:
        return str(uow.cases.get(case_id).state)


def _receipts(world: World, case_id: str) -> dict[str, ReceiptState]:
    with world.svc.uow() as uow:
        return {r.target: r.state for r in uow.receipts.for_case(case_id)}


def test_retryable_failure_retries_with_backoff_then_completes(world: World) -> None:
    """A target that is briefly down gets the secret on a later attempt; the case
    waits in executing meanwhile and completes once every receipt succeeded."""
    cloud = _cloud(world, failures=2, error=ConnectionFailed("cloud unreachable"))
    _two_target_subject(world, "ivan")
    case_id = _redeemed_case(world, "ivan")
    world.drain()
    assert _state(world, case_id) == "executing"
    assert _receipts(world, case_id) == {
        "directory": ReceiptState.SUCCEEDED,
        "cloud": ReceiptState.RETRYABLE_FAILURE,
    }
    with world.svc.uow() as uow:
        first = next(r for r in uow.receipts.for_case(case_id) if r.target == "cloud")
    assert first.next_attempt_at > world.clock.now()  # backoff, not a hot loop
    world.clock.advance(timedelta(seconds=2))
    world.drain()
    world.clock.advance(timedelta(seconds=4))
    world.drain()
    assert cloud.calls == 3
    assert _state(world, case_id) == "completed"
    assert BuiltinDirectory("cloud", world.svc.engine).verify_password("ivan", PASSWORD)


def test_exhausted_attempts_put_the_case_in_needs_attention_naming_the_target(
    world: World,
) -> None:
    """When retries run out the case names the failing target; an executor can
    retry it once the target is back, and the case completes."""
    cloud = _cloud(world, failures=100, error=ConnectionFailed("cloud unreachable"))
    _two_target_subject(world, "judy")
    case_id = _redeemed_case(world, "judy")
    for _ in range(world.svc.settings.worker.max_attempts + 1):
        world.drain()
        world.clock.advance(timedelta(minutes=10))
    with world.svc.uow() as uow:
        case = uow.cases.get(case_id)
        receipts = {r.target: r for r in uow.receipts.for_case(case_id)}
    assert case.state == CaseState.NEEDS_ATTENTION
    assert "cloud/judy" in case.outcome_reason
    assert receipts["cloud"].state == ReceiptState.FAILED
    assert receipts["cloud"].attempts == world.svc.settings.worker.max_attempts
    assert receipts["cloud"].answer == "cloud unreachable"

    cloud.failures = 0
    world.operator("edsger", Role.EXECUTOR)
    assert cases.retry(world.svc, world.operators["edsger"], case_id, target="cloud") == 1
    world.drain()
    assert _state(world, case_id) == "completed"


def _ledger_reasons(world: World, case_id: str) -> list[str]:
    with world.svc.uow() as uow:
        return [str(e["reason"]) for e in uow.ledger.for_case(case_id)]


def test_refused_password_fails_at_once_and_nothing_is_reported_done(world: World) -> None:
    """A target that refuses the password is not retried; the case goes to
    needs_attention with the target's own answer and never to completed."""
    _cloud(world, failures=1, error=PasswordPolicy("too similar to an old password"))
    _two_target_subject(world, "kim")
    case_id = _redeemed_case(world, "kim")
    world.drain()
    assert _state(world, case_id) == "needs_attention"
    receipts = _receipts(world, case_id)
    assert receipts["cloud"] == ReceiptState.FAILED
    assert any("too similar to an old password" in r for r in _ledger_reasons(world, case_id))


def test_a_dead_worker_loses_its_lease_not_the_receipt(world: World) -> None:
    """A worker that claimed receipts and died: nobody else takes them while the
    lease runs; after it, another worker completes the case; a late answer of the
    dead worker is dropped."""
    world.subject("lars")
    case_id = _redeemed_case(world, "lars")
    dead = Worker(world.svc, owner="dead-worker")
    claimed = dead.claim()
    assert [r.case_id for r in claimed] == [case_id]
    alive = Worker(world.svc, owner="live-worker")
    assert alive.claim() == []
    world.clock.advance(timedelta(seconds=world.svc.settings.worker.lease_s + 1))
    world.drain()
    assert _state(world, case_id) == "completed"
    with world.svc.uow() as uow:
        late = uow.receipts.record(
            claimed[0].id,
            owner="dead-worker",
            state=ReceiptState.FAILED,
            now=world.clock.now(),
            answer="x",
        )
        uow.commit()
    assert late is False
    assert _receipts(world, case_id) == {"directory": ReceiptState.SUCCEEDED}


def test_concurrent_claims_never_share_a_receipt(world: World) -> None:
    """Two workers claiming at once get disjoint receipts (SKIP LOCKED on
    PostgreSQL, serialised transactions on SQLite)."""
    import threading

    for name in ("mona", "nils", "olga", "paul"):
        world.subject(name)
        _redeemed_case(world, name)
    got: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def claim(owner: str) -> None:
        worker = Worker(world.svc, owner=owner)
        barrier.wait()
        got[owner] = [r.id for r in worker.claim()]

    threads = [threading.Thread(target=claim, args=(o,)) for o in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["w1"]) & set(got["w2"])
    assert len(got["w1"]) + len(got["w2"]) == 4


def test_retry_refuses_a_case_that_does_not_need_attention(world: World) -> None:
    world.subject("nina")
    case_id = _redeemed_case(world, "nina")
    world.drain()
    world.operator("edsger", Role.EXECUTOR)
    with pytest.raises(AlreadyDecided):
        cases.retry(world.svc, world.operators["edsger"], case_id)


def test_subject_without_linked_accounts_needs_attention(world: World) -> None:
    world.subject("omar")
    with world.svc.uow() as uow:
        uow.conn.execute(linked_accounts.delete().where(linked_accounts.c.subject_id == "omar"))
        uow.commit()
    case_id = _redeemed_case(world, "omar")
    assert _state(world, case_id) == "needs_attention"
