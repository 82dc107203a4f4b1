"""The worker's completion notices (R-22) handed over to the worker itself: it
writes them sealed to the notice outbox in the transaction that completes the
cases, already leased to itself, and sends them from the messages it still
holds once that transaction committed (never inside it), recording one
``notify:subject:sent`` leaf per notice as it drops the rows. A worker that dies
between the commit and the send loses none: no sweep (its own or another
worker's) takes the rows while the lease lasts, and the next sweep after it
ran out sends them, once. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from recoveries import self_service_recovery
from sqlalchemy import func, select

from conftest import World
from custos.domain.events import EventType
from custos.domain.states import CaseState
from custos.notify.base import Message, Notifier
from custos.propagation.worker import Worker
from custos.service.notices import dispatch as notices
from custos.service.notices import outbox
from custos.service.notices.outbox_sweep import deliver_due, deliver_handover
from custos.store.tables import cases, ledger, notice_outbox

#: What only the completion notice says (``recovery_notice.txt``).
COMPLETED = "was changed by account recovery"


class Died(BaseException):
    """The worker's process dying (not an error a delivery would catch)."""


@dataclass
class Mailbox:
    """The world's notifier, noting each completion notice with whether its
    case was already committed ``completed`` (seen from another connection)
    when sent; ``die`` makes the next send kill the process instead."""

    world: World
    inner: Notifier
    die: bool = False
    sent: list[tuple[str, str, bool]] = field(default_factory=list)

    def send(self, message: Message) -> None:
        if self.die:
            self.die = False
            raise Died
        if message.kind == "recovery_notice" and COMPLETED in message.body:
            case_id = message.case_id or ""
            self.sent.append((message.to, case_id, _state(self.world, case_id) == "completed"))
        self.inner.send(message)


def _redeemed(world: World, names: tuple[str, ...]) -> list[str]:
    """Recoveries of ``names`` redeemed (their ``credential_issued`` notices
    already sent), left for the worker to propagate and complete."""
    for name in names:
        world.subject(name)
    ids = [self_service_recovery(world, name) for name in names]
    world.send_notices()
    return ids


def _sent_leaves(world: World, case_ids: list[str]) -> Counter[str]:
    """``notify:subject:sent`` leaves of completion notices, per case."""
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.case_id).where(
                ledger.c.case_id.in_(case_ids),
                ledger.c.type == str(EventType.NOTIFICATION_SENT),
                ledger.c.canonical.contains('"recovery_notice"'),
            )
        )
        return Counter(r.case_id for r in rows)


def _rows(world: World) -> list[tuple[bytes, object]]:
    with world.svc.engine.connect() as conn:
        return [
            (bytes(r.sealed), r.lease_until)
            for r in conn.execute(select(notice_outbox.c.sealed, notice_outbox.c.lease_until))
        ]


def _state(world: World, case_id: str) -> str:
    with world.svc.engine.connect() as conn:
        return str(conn.execute(select(cases.c.state).where(cases.c.id == case_id)).scalar_one())


@pytest.fixture
def mailbox(world: World) -> Mailbox:
    box = Mailbox(world, world.svc.notifier)
    world.svc.notifier = box
    return box


def test_the_worker_sends_the_completion_notices_itself_once_committed(
    world: World, mailbox: Mailbox
) -> None:
    """R-22: the pass that completes the cases tells each confirmed contact,
    after the commit (the case already reads ``completed`` elsewhere), without
    waiting for a sweep; the outbox is empty after that pass, and each notice
    is one ``notify:subject:sent`` leaf, never repeated by later passes."""
    names = ("ann", "ben", "cal")
    ids = _redeemed(world, names)
    baseline = _sent_leaves(world, ids)
    worker = Worker(world.svc, owner="first")
    while not all(_state(world, c) == "completed" for c in ids):
        assert worker.run_once() > 0
    assert _rows(world) == []
    assert sorted(mailbox.sent) == sorted(
        (f"{n}@example.org", c, True) for n, c in zip(names, ids, strict=True)
    )
    assert _sent_leaves(world, ids) - baseline == Counter(ids)
    world.clock.advance(outbox.LEASE * 2)
    world.drain()
    assert deliver_due(world.svc) == 0
    assert len(mailbox.sent) == len(names)
    assert _sent_leaves(world, ids) - baseline == Counter(ids)


def test_a_worker_dying_between_commit_and_send_leaves_the_notice_to_the_sweep(
    world: World, mailbox: Mailbox
) -> None:
    """R-22, at least once: the worker committed the completion and died as it
    began to send. The notice waits sealed in the outbox, leased: no sweep, of
    another worker or of a raw claim, takes it while the lease lasts; once it
    ran out, the next sweep sends it, records it once, and never again."""
    (case_id,) = _redeemed(world, ("dora",))
    baseline = _sent_leaves(world, [case_id])
    mailbox.die = True
    worker = Worker(world.svc, owner="doomed")
    with pytest.raises(Died):
        while _state(world, case_id) != "completed":
            worker.run_once()
    assert _state(world, case_id) == CaseState.COMPLETED
    (row,) = _rows(world)
    assert b"dora@example.org" not in row[0] and b"#token=" not in row[0]  # sealed
    assert mailbox.sent == []

    other = Worker(world.svc, owner="other")
    world.clock.advance(outbox.LEASE - timedelta(seconds=1))
    other.run_once()
    assert deliver_due(world.svc) == 0
    with world.svc.uow() as uow:
        now = world.clock.now()
        assert uow.outbox.claim_due(now=now, until=now + outbox.LEASE, limit=10) == []
        uow.commit()
    assert mailbox.sent == [] and len(_rows(world)) == 1

    world.clock.advance(timedelta(seconds=2))
    other.run_once()
    assert mailbox.sent == [("dora@example.org", case_id, True)]
    assert _rows(world) == []
    assert _sent_leaves(world, [case_id]) - baseline == Counter([case_id])
    world.clock.advance(outbox.LEASE * 2)
    other.run_once()
    assert len(mailbox.sent) == 1
    assert _sent_leaves(world, [case_id]) - baseline == Counter([case_id])


def test_held_notices_are_sealed_leased_and_sent_only_by_their_handover(
    world: World, mailbox: Mailbox
) -> None:
    """R-22: ``hold_recoveries`` writes each notice sealed (nothing of it
    readable in the row), leased for ``outbox.LEASE``; the sweep leaves the rows
    alone; the handover, once the unit of work committed, sends each case's
    notice and records it with one leaf per case (its recipients counted), as
    it drops the rows. A unit of work that rolls back leaves no row to send."""
    names = ("eve", "fay")
    ids = _redeemed(world, names)
    baseline = _sent_leaves(world, ids)
    now = world.clock.now()
    with world.svc.uow() as uow:
        loaded = uow.cases.get_many(ids)
        subjects = uow.subjects.get_many(names)
        done = [(loaded[c], subjects[n]) for c, n in zip(ids, names, strict=True)]
        notices.hold_recoveries(world.svc, uow, done, event="completed", now=now)
        # not committed: rolled back
    assert _rows(world) == []
    with world.svc.uow() as uow:
        handover = notices.hold_recoveries(world.svc, uow, done, event="completed", now=now)
        uow.commit()
    assert handover.recipients == 2 and handover.leased_until == now + outbox.LEASE
    rows = _rows(world)
    assert len(rows) == 2
    for sealed, _ in rows:
        assert b"example.org" not in sealed and b"repudiate" not in sealed
    with world.svc.engine.connect() as conn:
        due = conn.execute(
            select(func.count())
            .select_from(notice_outbox)
            .where(notice_outbox.c.lease_until <= now + outbox.LEASE - timedelta(seconds=1))
        ).scalar_one()
    assert due == 0
    assert deliver_due(world.svc) == 0 and mailbox.sent == []
    assert deliver_handover(world.svc, handover) == 2
    assert sorted(to for to, _, _ in mailbox.sent) == ["eve@example.org", "fay@example.org"]
    assert _rows(world) == []
    assert _sent_leaves(world, ids) - baseline == Counter(ids)


def test_a_handover_past_half_its_lease_leaves_the_rest_to_the_sweep(
    world: World, mailbox: Mailbox
) -> None:
    """R-22: a slow relay. The worker begins no batch once half the lease has
    passed: what it sent is recorded, the rest stays leased, untouched by any
    sweep until the lease ran out (so no two senders hold a row at once), then
    goes out with the sweep, each notice once."""
    names = ("gus", "hal", "ivy")
    ids = _redeemed(world, names)
    baseline = _sent_leaves(world, ids)
    now = world.clock.now()
    with world.svc.uow() as uow:
        loaded = uow.cases.get_many(ids)
        subjects = uow.subjects.get_many(names)
        done = [(loaded[c], subjects[n]) for c, n in zip(ids, names, strict=True)]
        handover = notices.hold_recoveries(world.svc, uow, done, event="completed", now=now)
        uow.commit()
    slow = mailbox.send

    def slow_send(message: Message) -> None:
        slow(message)
        world.clock.advance(outbox.LEASE / 2)  # the relay took its time

    mailbox.send = slow_send  # type: ignore[method-assign]
    assert deliver_handover(world.svc, handover) == 1
    mailbox.send = slow  # type: ignore[method-assign]
    assert [c for _, c, _ in mailbox.sent] == ids[:1]
    assert len(_rows(world)) == 2
    world.clock.advance(outbox.LEASE / 2 - timedelta(seconds=1))
    assert deliver_due(world.svc) == 0 and len(mailbox.sent) == 1
    world.clock.advance(timedelta(seconds=2))
    assert deliver_due(world.svc) == 2
    assert sorted(c for _, c, _ in mailbox.sent) == sorted(ids)
    assert _rows(world) == []
    assert _sent_leaves(world, ids) - baseline == Counter(ids)
