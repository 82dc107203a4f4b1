"""The notice outbox (R-22): a notice is written, sealed, with the change it
reports, leased to the process that wrote it; a process that dies after its
commit and before the delivery loses none: once the lease ran out, the worker
sends it. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest
from risk_world import texts
from sqlalchemy import select, update

from conftest import World
from custos.domain.events import EventType
from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.propagation.worker import Worker
from custos.service.notices import dispatch as notices
from custos.service.notices import outbox, sms
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
    if channel == "email":
        return [m["body"] for m in world.mail("ada@example.org", "outbox_test")]
    return [t["body"] for t in texts(world) if t["kind"] == "outbox_test"]


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


def _crash_after_commit(world: World, channel: Literal["email", "sms"]) -> None:
    """Queue a notice and commit, then die before delivering it: the unit of
    work's after-commit actions never run."""
    world.subject("ada")
    with world.svc.uow() as uow:
        _queue(world, uow, channel)
        uow._after_commit.clear()  # the process dies right after its commit
        uow.commit()


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_notice_is_held_sealed_and_dropped_once_delivered(world: World, channel: str) -> None:
    """R-22, R-37: while held, the row carries no readable text; after the
    normal delivery it is gone and the delivery is in the ledger."""
    world.subject("ada")
    with world.svc.uow() as uow:
        _queue(world, uow, channel)  # type: ignore[arg-type]
        (sealed,) = [bytes(r.sealed) for r in uow.conn.execute(select(notice_outbox.c.sealed))]
        assert b"31415926" not in sealed and b"ada@example.org" not in sealed
        uow.commit()
    assert _delivered(world, channel) == [SECRET_BODY]
    assert _rows(world) == []
    assert _sent_events(world) == 1


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_notice_left_by_a_crash_is_sent_by_the_worker_once(
    world: World, channel: Literal["email", "sms"]
) -> None:
    """R-22: the commit happened, the process died before sending. The worker
    leaves the row alone while the dead process's lease lasts (it might still
    be sending), then sends it, records it, and never sends it again."""
    _crash_after_commit(world, channel)
    assert _delivered(world, channel) == [] and len(_rows(world)) == 1
    worker = Worker(world.svc)
    world.clock.advance(outbox.LEASE - timedelta(seconds=1))
    worker.run_once()
    assert _delivered(world, channel) == []
    world.clock.advance(timedelta(seconds=2))
    worker.run_once()
    assert _delivered(world, channel) == [SECRET_BODY]
    assert _rows(world) == [] and _sent_events(world) == 1
    world.clock.advance(outbox.LEASE * 3)
    worker.run_once()
    assert _delivered(world, channel) == [SECRET_BODY]


def test_a_row_that_no_longer_unseals_is_recorded_as_failed_and_dropped(world: World) -> None:
    """An altered row is not sent anywhere: its failure is in the ledger (by
    type, nothing of its content) and the row is dropped."""
    _crash_after_commit(world, "email")
    with world.svc.engine.begin() as conn:
        (sealed,) = [bytes(r.sealed) for r in conn.execute(select(notice_outbox.c.sealed))]
        conn.execute(update(notice_outbox).values(sealed=sealed[:-1] + bytes([sealed[-1] ^ 1])))
    world.clock.advance(outbox.LEASE + timedelta(seconds=1))
    Worker(world.svc).run_once()
    assert _delivered(world, "email") == [] and _rows(world) == []
    with world.svc.engine.connect() as conn:
        (failed,) = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == str(EventType.NOTIFICATION_FAILED))
        ).all()
    assert "could not be read back" in failed.canonical and "31415926" not in failed.canonical
