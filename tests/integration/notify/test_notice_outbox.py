"""The notice outbox (R-19, R-22): a notice is written, sealed, with the change
it reports, and only the worker's sweep sends it; a request never talks to the
relay. A sweep that dies after taking rows loses none: once its lease ran out,
the next sweep sends them. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest
from sqlalchemy import select, update

from conftest import World
from custos.domain.events import EventType
from custos.notify.base import Message
from custos.notify.outbox import read_outbox
from custos.notify.sms import SmsMessage, read_sms_outbox
from custos.propagation.worker import Worker
from custos.service.notices import dispatch as notices
from custos.service.notices import outbox, sms
from custos.service.notices.outbox_sweep import deliver_due
from custos.service.recovery import self_service
from custos.store.tables import ledger, notice_outbox
from custos.store.unit_of_work import UnitOfWork

SECRET_BODY = "Your one-time code is 31415926."


def _queue(world: World, uow: UnitOfWork, channel: Literal["email", "sms"]) -> None:
    if channel == "email":
        message = Message(
            to="ada@example.org", subject="Code", body=SECRET_BODY, kind="outbox_test"
        )
        notices.queue(world.svc, uow, [message], subject_id="ada")
    else:
        text = SmsMessage(to="+491701234567", body=SECRET_BODY, kind="outbox_test")
        sms.queue_texts(world.svc, uow, [text], subject_id="ada")


def _delivered(world: World, channel: str) -> list[str]:
    """What reached the mailbox or phone so far (without running a sweep)."""
    if channel == "email":
        found = read_outbox(world.outbox)
    else:
        found = read_sms_outbox(world.svc.settings.effective_sms_outbox)
    return [m["body"] for m in found if m["kind"] == "outbox_test"]


def _rows(world: World) -> list[bytes]:
    with world.svc.engine.connect() as conn:
        return [bytes(r.sealed) for r in conn.execute(select(notice_outbox.c.sealed))]


def _sent_events(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return len(
            conn.execute(
                select(ledger.c.seq).where(
                    ledger.c.type == str(EventType.NOTIFICATION_SENT),
                    ledger.c.canonical.contains('"outbox_test"'),
                )
            ).all()
        )


def _queued(world: World, channel: Literal["email", "sms"]) -> None:
    world.subject("ada")
    with world.svc.uow() as uow:
        _queue(world, uow, channel)
        uow.commit()


def _taken_by_a_sweep_that_dies(world: World) -> None:
    """A sweep leases the rows, then its process dies before sending them."""
    now = world.clock.now()
    with world.svc.uow() as uow:
        assert len(uow.outbox.claim_due(now=now, until=now + outbox.LEASE, limit=10)) == 1
        uow.commit()


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_notice_is_held_sealed_until_the_sweep_sends_it(world: World, channel: str) -> None:
    """R-22, R-37: while held, the row carries no readable text; the commit
    sends nothing (R-19: the request does the same work whoever it is about);
    the sweep sends it, drops the row and records the delivery in the ledger."""
    world.subject("ada")
    with world.svc.uow() as uow:
        _queue(world, uow, channel)  # type: ignore[arg-type]
        (sealed,) = [bytes(r.sealed) for r in uow.conn.execute(select(notice_outbox.c.sealed))]
        assert b"31415926" not in sealed and b"ada@example.org" not in sealed
        uow.commit()
    assert _delivered(world, channel) == [] and len(_rows(world)) == 1
    assert deliver_due(world.svc) == 1
    assert _delivered(world, channel) == [SECRET_BODY]
    assert _rows(world) == []
    assert _sent_events(world) == 1
    assert deliver_due(world.svc) == 0


def test_a_code_request_leaves_the_sending_to_the_sweep(world: World) -> None:
    """R-19: asking for an email code writes the code's message to the outbox
    and returns without handing anything to the notifier, so a slow relay cannot
    make a known account answer later than an unknown one; the worker's pass
    sends it."""
    world.subject("ada")
    flow = self_service.start(world.svc, identifier="ada", source_address="192.0.2.7")
    self_service.request_email_code(world.svc, handle=flow)
    assert read_outbox(world.outbox) == [] and len(_rows(world)) == 1
    Worker(world.svc).run_once()
    assert [m["kind"] for m in read_outbox(world.outbox)] == ["email_code"]
    assert _rows(world) == []


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_notice_taken_by_a_sweep_that_died_is_sent_once_its_lease_ran_out(
    world: World, channel: Literal["email", "sms"]
) -> None:
    """R-22: a sweep took the row and died before sending. The worker leaves the
    row alone while that lease lasts (the sweep might still be sending), then
    sends it, records it, and never sends it again."""
    _queued(world, channel)
    _taken_by_a_sweep_that_dies(world)
    worker = Worker(world.svc)
    world.clock.advance(outbox.LEASE - timedelta(seconds=1))
    worker.run_once()
    assert _delivered(world, channel) == [] and len(_rows(world)) == 1
    world.clock.advance(timedelta(seconds=2))
    worker.run_once()
    assert _delivered(world, channel) == [SECRET_BODY]
    assert _rows(world) == [] and _sent_events(world) == 1
    world.clock.advance(outbox.LEASE * 3)
    worker.run_once()
    assert _delivered(world, channel) == [SECRET_BODY]


def test_notices_go_in_the_order_they_were_queued(world: World) -> None:
    """Rows written at the same clock time (one request after another) are sent
    in the order written, so the last code sent is the last code asked for."""
    world.subject("ada")
    for n in range(12):
        with world.svc.uow() as uow:
            message = Message(to="ada@example.org", subject="n", body=str(n), kind="outbox_test")
            notices.queue(world.svc, uow, [message], subject_id="ada")
            uow.commit()
    deliver_due(world.svc)
    assert _delivered(world, "email") == [str(n) for n in range(12)]


def test_a_row_that_no_longer_unseals_is_recorded_as_failed_and_dropped(world: World) -> None:
    """An altered row is not sent anywhere: its failure is in the ledger (by
    type, nothing of its content) and the row is dropped."""
    _queued(world, "email")
    with world.svc.engine.begin() as conn:
        (sealed,) = [bytes(r.sealed) for r in conn.execute(select(notice_outbox.c.sealed))]
        conn.execute(update(notice_outbox).values(sealed=sealed[:-1] + bytes([sealed[-1] ^ 1])))
    Worker(world.svc).run_once()
    assert _delivered(world, "email") == [] and _rows(world) == []
    with world.svc.engine.connect() as conn:
        (failed,) = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == str(EventType.NOTIFICATION_FAILED))
        ).all()
    assert "could not be read back" in failed.canonical and "31415926" not in failed.canonical


def test_two_sweeps_take_different_rows_each_in_the_order_written(world: World) -> None:
    """A sweep takes at most its limit, oldest first, and a second sweep takes
    only the rest: on PostgreSQL while the first still holds its rows
    uncommitted (skipping the locked ones), on SQLite (one writer) after it."""
    world.subject("ada")
    for n in range(5):
        with world.svc.uow() as uow:
            message = Message(to="ada@example.org", subject="n", body=str(n), kind="outbox_test")
            notices.queue(world.svc, uow, [message], subject_id="ada")
            uow.commit()
    now = world.clock.now()
    until = now + outbox.LEASE
    concurrent = world.svc.engine.dialect.name == "postgresql"
    with world.svc.uow() as first:
        taken = first.outbox.claim_due(now=now, until=until, limit=2)
        if not concurrent:
            first.commit()
        with world.svc.uow() as second:
            rest = second.outbox.claim_due(now=now, until=until, limit=10)
            second.commit()
        if concurrent:
            first.commit()
    bodies = [
        [outbox.opened(world.svc, row).body for row in rows]  # type: ignore[union-attr]
        for rows in (taken, rest)
    ]
    assert bodies == [["0", "1"], ["2", "3", "4"]]
    assert [r.id for r in taken + rest] == sorted(r.id for r in taken + rest)
    with world.svc.uow() as uow:
        assert uow.outbox.claim_due(now=now, until=until, limit=10) == []
