"""Notices queued in one unit of work (``notices.queue``): none is handed to the
notifier by the unit of work, before or after its commit; the worker's next
outbox sweep sends all of them, in the order queued, and records their
outcomes in the ledger in one transaction (R-19, R-22, R-38). A rolled-back
unit of work sends nothing. ``notify_recoveries`` tells every confirmed contact
of each case, each with its own repudiation link (R-22)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from recoveries import self_service_recovery
from sqlalchemy import select

from conftest import World
from custos.credentials.tokens import token_digest
from custos.domain.events import EventType
from custos.notify.base import Message, NotificationFailed
from custos.service.notices import dispatch as notices
from custos.store.tables import ledger, repudiation_tokens, throttles
from custos.store.unit_of_work import UnitOfWork

MARKER = "gathered-notices-marker"


@dataclass
class Recorder:
    """A notifier that notes each message and whether the change of the unit of
    work that queued it was already committed (visible to another connection)."""

    world: World
    refuse: set[str] = field(default_factory=set)
    sent: list[tuple[str, str, bool]] = field(default_factory=list)

    def send(self, message: Message) -> None:
        with self.world.svc.uow(read_only=True) as uow:
            committed = (
                uow.conn.execute(select(throttles.c.key).where(throttles.c.key == MARKER)).first()
                is not None
            )
        self.sent.append((message.to, message.case_id or "", committed))
        if message.to in self.refuse:
            raise NotificationFailed(f"mailbox {message.to} refused the message")


def _message(to: str, case_id: str) -> Message:
    return Message(to=to, subject="Test", body="A notice.", kind="test_notice", case_id=case_id)


def _mark(uow: UnitOfWork) -> None:
    """The change the notices report: visible elsewhere only once committed."""
    uow.conn.execute(throttles.insert().values(key=MARKER, failures=0))


def _notice_events(world: World, *case_ids: str) -> list[dict[str, Any]]:
    with world.svc.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            select(ledger.c.seq, ledger.c.case_id, ledger.c.type, ledger.c.leaf_index)
            .where(
                ledger.c.case_id.in_(case_ids),
                ledger.c.type.in_(
                    [str(EventType.NOTIFICATION_SENT), str(EventType.NOTIFICATION_FAILED)]
                ),
            )
            .order_by(ledger.c.seq)
        )
        events = [dict(r._mapping) for r in rows]
        for event in events:
            details = uow.ledger.for_case(event["case_id"])
            event["entry"] = next(e for e in details if e["seq"] == event["seq"])
        return events


@pytest.fixture
def recorder(world: World) -> Recorder:
    notifier = Recorder(world)
    world.svc.notifier = notifier
    return notifier


@pytest.fixture
def units(world: World, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """How many units of work open (True: read-only) from here on."""
    opened: list[bool] = []
    plain = world.svc.uow

    def counted(*, read_only: bool = False) -> UnitOfWork:
        opened.append(read_only)
        return plain(read_only=read_only)

    monkeypatch.setattr(world.svc, "uow", counted)
    return opened


def test_two_queued_batches_go_with_the_next_sweep_in_order_and_both_are_recorded(
    world: World, recorder: Recorder, units: list[bool]
) -> None:
    """R-22: notices go only after the change they report is committed, and only
    from the sweep (R-19: the committing request sends nothing); R-38: each
    batch's outcome is a ledger entry, both written in one transaction
    (adjacent leaves)."""
    with world.svc.uow() as uow:
        _mark(uow)
        notices.queue(
            world.svc,
            uow,
            [_message("one@example.org", "case-1"), _message("two@example.org", "case-1")],
            subject_id="first",
        )
        notices.queue(world.svc, uow, [_message("three@example.org", "case-2")], subject_id="2nd")
        notices.queue(world.svc, uow, [], subject_id="nobody")  # nothing to send
        assert recorder.sent == []  # not inside the transaction
        uow.commit()
    assert recorder.sent == []  # nor by the request after its commit
    units.clear()
    assert world.send_notices() == 3
    assert recorder.sent == [
        ("one@example.org", "case-1", True),
        ("two@example.org", "case-1", True),
        ("three@example.org", "case-2", True),
    ]
    # Two writing units of work: one leases the rows, one records the outcomes
    # as it drops them.
    assert units.count(False) == 2

    events = _notice_events(world, "case-1", "case-2")
    assert [(e["case_id"], e["type"]) for e in events] == [
        ("case-1", str(EventType.NOTIFICATION_SENT)),
        ("case-2", str(EventType.NOTIFICATION_SENT)),
    ]
    assert events[1]["leaf_index"] == events[0]["leaf_index"] + 1
    first, second = (e["entry"] for e in events)
    assert first["subject"] == "first" and second["subject"] == "2nd"
    assert first["data"] == {"kind": "test_notice", "recipients": 2, "delivered": 2}
    assert second["data"] == {"kind": "test_notice", "recipients": 1, "delivered": 1}


def test_a_rolled_back_unit_of_work_sends_and_records_nothing(
    world: World, recorder: Recorder
) -> None:
    with world.svc.uow() as uow:
        _mark(uow)
        notices.queue(world.svc, uow, [_message("one@example.org", "case-3")], subject_id="s")
        notices.queue(world.svc, uow, [_message("two@example.org", "case-4")], subject_id="s")
        # left without commit: rolled back

    @contextmanager
    def failing() -> Iterator[UnitOfWork]:
        with world.svc.uow() as uow:
            _mark(uow)
            notices.queue(world.svc, uow, [_message("x@example.org", "case-5")], subject_id="s")
            yield uow
            uow.commit()

    with pytest.raises(RuntimeError), failing():
        raise RuntimeError("the handler failed after queueing")
    assert world.send_notices() == 0
    assert recorder.sent == []
    assert _notice_events(world, "case-3", "case-4", "case-5") == []
    with world.svc.uow(read_only=True) as uow:
        assert uow.conn.execute(select(throttles)).all() == []


def test_a_refused_batch_is_recorded_as_failed_beside_the_delivered_one(
    world: World, recorder: Recorder
) -> None:
    """A delivery failure never fails the committed change; its batch is
    ``notify:subject:failed`` with the reason, the other batch still ``sent``."""
    recorder.refuse = {"bounce@example.org"}
    with world.svc.uow() as uow:
        _mark(uow)
        notices.queue(
            world.svc,
            uow,
            [_message("bounce@example.org", "case-6"), _message("ok@example.org", "case-6")],
            subject_id="s6",
        )
        notices.queue(world.svc, uow, [_message("fine@example.org", "case-7")], subject_id="s7")
        uow.commit()
    assert world.send_notices() == 3  # does not raise
    assert [to for to, _, _ in recorder.sent] == [
        "bounce@example.org",
        "ok@example.org",
        "fine@example.org",
    ]
    events = _notice_events(world, "case-6", "case-7")
    assert [(e["case_id"], e["type"]) for e in events] == [
        ("case-6", str(EventType.NOTIFICATION_FAILED)),
        ("case-7", str(EventType.NOTIFICATION_SENT)),
    ]
    failed = events[0]["entry"]
    assert failed["data"] == {"kind": "test_notice", "recipients": 2, "delivered": 1}
    assert "bounce@example.org refused" in failed["reason"]


def test_notify_recoveries_tells_every_confirmed_contact_with_its_own_link(
    world: World,
) -> None:
    """R-22: each case's confirmed addresses (never the unconfirmed one) get a
    notice with a repudiation link; every link's token is stored (one statement)
    and opens its own case only, once. A subject with no confirmed address gets
    neither a message nor a token."""
    names = ("una", "vic", "walt")
    for name in names:
        world.subject(name)
    ids = [self_service_recovery(world, name) for name in names]
    before = {n: len(world.mail(f"{n}@example.org", "recovery_notice")) for n in names}
    tokens_before = _tokens_per_case(world, ids)
    now = world.clock.now()
    with world.svc.uow() as uow:
        loaded = uow.cases.get_many(ids)
        subjects = uow.subjects.get_many(names)
        subjects["walt"] = replace(subjects["walt"], contacts=())  # nobody to tell
        done = [(loaded[cid], subjects[name]) for cid, name in zip(ids, names, strict=True)]
        recipients = notices.notify_recoveries(world.svc, uow, done, event="completed", now=now)
        uow.commit()
    assert recipients == 2
    links = {}
    for name in ("una", "vic"):
        mails = world.mail(f"{name}@example.org", "recovery_notice")
        assert len(mails) == before[name] + 1
        links[name] = mails[-1]["body"].split("#token=")[1].split()[0]
        assert world.mail(f"{name}@old.example.org", "recovery_notice") == []
    assert links["una"] != links["vic"]
    assert len(world.mail("walt@example.org", "recovery_notice")) == before["walt"]
    tokens_after = _tokens_per_case(world, ids)
    assert [tokens_after[c] - tokens_before[c] for c in ids] == [1, 1, 0]
    with world.svc.uow() as uow:
        assert uow.repudiations.use(token_digest(links["una"]), now=now) == ids[0]
        assert uow.repudiations.use(token_digest(links["vic"]), now=now) == ids[1]
        assert uow.repudiations.use(token_digest(links["una"]), now=now) is None
        uow.commit()
    sent = _notice_events(world, *ids)
    assert [e["case_id"] for e in sent[-2:]] == ids[:2]
    assert all(e["type"] == str(EventType.NOTIFICATION_SENT) for e in sent[-2:])
    assert sent[-1]["leaf_index"] == sent[-2]["leaf_index"] + 1


def _tokens_per_case(world: World, ids: list[str]) -> dict[str, int]:
    with world.svc.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            select(repudiation_tokens.c.case_id).where(repudiation_tokens.c.case_id.in_(ids))
        ).scalars()
        found = list(rows)
    return {cid: found.count(cid) for cid in ids}
