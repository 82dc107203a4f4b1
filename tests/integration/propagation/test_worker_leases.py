"""A live worker keeps its leases while their receipts are in its hands, so a
slow pass never lets a second worker write the same secret again (found by the
soak bench: on a machine at load average 25, leases of 10 s ran out under live
workers and 18 of 65 accounts got their password written twice). A worker
that did lose a lease writes nothing for that receipt."""

from __future__ import annotations

from datetime import timedelta

from recoveries import self_service_recovery

from conftest import World
from custos.connectors.builtin import BuiltinDirectory
from custos.propagation.worker import Worker
from custos.store.receipt_repository import ReceiptState

PASSWORD = "saffron-kettle-glacier-19-drum"


class Counting(BuiltinDirectory):
    """The built-in directory, counting the password writes it receives."""

    def __init__(self, world: World) -> None:
        super().__init__("directory", world.svc.engine)
        self.writes: list[str] = []

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        self.writes.append(account_id)
        return super().set_password(account_id, password, must_change=must_change)


def _counting(world: World) -> Counting:
    directory = Counting(world)
    world.svc.registry.register("directory", directory, kind="builtin")
    return directory


def _lease(world: World) -> timedelta:
    return timedelta(seconds=world.svc.settings.worker.lease_s)


def test_a_renewed_lease_is_not_taken_over_by_another_worker(world: World) -> None:
    """R-38: the slow worker renews while it holds the receipt; past the first
    lease's end the other worker claims nothing, and the secret is written once."""
    directory = _counting(world)
    world.subject("rune")
    case_id = self_service_recovery(world, "rune", password=PASSWORD)
    slow = Worker(world.svc, owner="slow-worker")
    (receipt,) = slow.claim()
    world.clock.advance(_lease(world) * 2 / 3)
    assert slow._leases.renew() == {receipt.id}
    world.clock.advance(_lease(world) * 2 / 3)  # past the first lease's end
    other = Worker(world.svc, owner="other-worker")
    assert other.claim() == []
    slow.attempt(receipt)
    slow.close()
    other.close()
    assert directory.writes == ["rune"]
    with world.svc.uow() as uow:
        assert [r.state for r in uow.receipts.for_case(case_id)] == [ReceiptState.SUCCEEDED]


def test_a_worker_whose_lease_was_taken_writes_nothing(world: World) -> None:
    """R-38: a worker stalled past its lease without renewing: the receipt went
    to another worker, which wrote it; the stalled one, waking up, checks its
    lease before writing and leaves the directory alone. One write in all."""
    directory = _counting(world)
    world.subject("sigrid")
    case_id = self_service_recovery(world, "sigrid", password=PASSWORD)
    stalled = Worker(world.svc, owner="stalled-worker")
    (receipt,) = stalled.claim()
    world.clock.advance(_lease(world) + timedelta(seconds=1))
    other = Worker(world.svc, owner="other-worker")
    (taken,) = other.claim()
    assert taken.id == receipt.id
    written = other._attempt_all([taken])  # written, not yet recorded
    stalled.attempt(receipt)
    other._finish(written)
    stalled.close()
    other.close()
    assert directory.writes == ["sigrid"]
    assert stalled._leases.held() == []
    with world.svc.uow() as uow:
        assert [r.state for r in uow.receipts.for_case(case_id)] == [ReceiptState.SUCCEEDED]


def test_a_lapsed_lease_nobody_took_is_renewed_and_written(world: World) -> None:
    """A worker past its lease's end whose receipt nobody claimed meanwhile
    renews it at write time and writes it once; the case completes."""
    directory = _counting(world)
    world.subject("tove")
    case_id = self_service_recovery(world, "tove", password=PASSWORD)
    late = Worker(world.svc, owner="late-worker")
    (receipt,) = late.claim()
    world.clock.advance(_lease(world) + timedelta(seconds=1))
    late.attempt(receipt)
    late.close()
    world.drain()
    assert directory.writes == ["tove"]
    with world.svc.uow() as uow:
        assert str(uow.cases.get(case_id).state) == "completed"
