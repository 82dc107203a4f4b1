"""The SET outbox on both databases: SETs are written only by a committed
completion, a sweep's lease keeps other sweeps off its SETs and gives them back
when it dies (at least once), SETs of a stream deleted meanwhile are dropped,
and a SET that keeps failing, or finds no signing key, is given up after
``max_attempts`` with a ledger event saying why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ledger_json import LedgerEvent, ledger_event
from live_server import free_port
from recoveries import helpdesk_recovery
from sqlalchemy import select

from conftest import World, make_world
from custos.domain.model import Subject
from custos.domain.shared_signals import CREDENTIAL_CHANGE, SESSION_REVOKED
from custos.service.shared_signals import delivery, emission, keys, outbox, streams
from custos.store.tables import ledger, ssf_outbox


def _stream(world: World, *, events: tuple[str, ...] | None = None) -> str:
    """A stream to a loopback port nobody listens on."""
    return streams.create(
        world.svc,
        actor="test",
        delivery=streams.Delivery(endpoint_url=f"http://127.0.0.1:{free_port()}/events"),
        events_requested=events,
    ).id


def _ssf_world(world: World, tmp_path: Path, **ssf: object) -> World:
    """``world``'s database, with clear-text loopback pushes allowed."""
    url = world.svc.settings.effective_database_url
    return make_world(url, tmp_path / "again", ssf={"allow_insecure_transport": True, **ssf})


def _subject(world: World, subject_id: str) -> Subject:
    with world.svc.uow(read_only=True) as uow:
        found = uow.subjects.get(subject_id)
    assert found is not None
    return found


def _queue(world: World, subject: Subject, case_id: str) -> int:
    with world.svc.uow() as uow:
        case = uow.cases.get(case_id)
        count = emission.signal_recoveries(
            world.svc, uow, [emission.Recovered(case, subject)], now=world.clock.now()
        )
        uow.commit()
    return count


def _rows(world: World) -> list[tuple[str, int]]:
    with world.svc.engine.connect() as conn:
        query = select(ssf_outbox.c.event_type, ssf_outbox.c.attempts).order_by(ssf_outbox.c.id)
        return [(r.event_type, r.attempts) for r in conn.execute(query)]


def _failed(world: World) -> list[LedgerEvent]:
    with world.svc.engine.connect() as conn:
        query = select(ledger.c.canonical).where(ledger.c.type == "ssf:set:failed")
        rows = conn.execute(query.order_by(ledger.c.leaf_index))
        return [ledger_event(r.canonical) for r in rows]


def test_sets_are_written_only_when_the_completion_commits(world: World, tmp_path: Path) -> None:
    live = _ssf_world(world, tmp_path)
    _stream(live)
    case_id = helpdesk_recovery(live, "carol")
    subject = _subject(live, "carol")
    with live.svc.uow() as uow:
        emission.signal_recoveries(
            live.svc,
            uow,
            [emission.Recovered(uow.cases.get(case_id), subject)],
            now=live.clock.now(),
        )
        # no commit: the completion rolled back
    assert _rows(live) == []
    assert _queue(live, subject, case_id) == 2
    assert [t for t, _ in _rows(live)] == [CREDENTIAL_CHANGE, SESSION_REVOKED]


def test_a_sweeps_lease_keeps_others_off_and_returns_the_sets_when_it_dies(
    world: World, tmp_path: Path
) -> None:
    live = _ssf_world(world, tmp_path)
    _stream(live, events=(CREDENTIAL_CHANGE,))
    case_id = helpdesk_recovery(live, "carol")
    _queue(live, _subject(live, "carol"), case_id)
    now = live.clock.now()
    with live.svc.uow() as uow:
        taken = uow.ssf_outbox.claim_due(now=now, until=now + delivery.LEASE, limit=10)
        uow.commit()
    assert len(taken) == 1
    with live.svc.uow() as uow:  # another sweep meanwhile
        assert uow.ssf_outbox.claim_due(now=now, until=now + delivery.LEASE, limit=10) == []
        uow.commit()
    # The first sweep died without recording: once its lease ran out, the SET is due again.
    live.clock.advance(delivery.LEASE + timedelta(seconds=1))
    later = live.clock.now()
    with live.svc.uow() as uow:
        again = uow.ssf_outbox.claim_due(now=later, until=later + delivery.LEASE, limit=10)
        uow.commit()
    assert [r.jti for r in again] == [r.jti for r in taken]


def test_sets_of_a_stream_deleted_meanwhile_are_dropped(world: World, tmp_path: Path) -> None:
    live = _ssf_world(world, tmp_path)
    stream_id = _stream(live)
    case_id = helpdesk_recovery(live, "carol")
    subject = _subject(live, "carol")
    with live.svc.uow() as uow:
        emission.signal_recoveries(
            live.svc,
            uow,
            [emission.Recovered(uow.cases.get(case_id), subject)],
            now=live.clock.now(),
        )
        # the stream goes while this completion is still in flight
        uow.ssf_streams.delete(stream_id)
        uow.commit()
    assert len(_rows(live)) == 2
    assert delivery.deliver_due(live.svc) == 2
    assert _rows(live) == []
    assert _failed(live) == []


def test_a_set_that_keeps_failing_is_given_up_after_max_attempts(
    world: World, tmp_path: Path
) -> None:
    live = _ssf_world(world, tmp_path, max_attempts=2, backoff_base_s=1)
    keys.rotate(live.svc, actor="test")
    _stream(live, events=(CREDENTIAL_CHANGE,))
    case_id = helpdesk_recovery(live, "carol")
    _queue(live, _subject(live, "carol"), case_id)
    assert delivery.deliver_due(live.svc) == 1
    assert _rows(live) == [(CREDENTIAL_CHANGE, 1)]
    assert delivery.deliver_due(live.svc) == 0  # not due before its backoff
    live.clock.advance(timedelta(seconds=2))
    assert delivery.deliver_due(live.svc) == 1
    assert _rows(live) == []
    [failed] = _failed(live)
    assert failed["case"] == case_id
    assert str(failed["reason"]).startswith("gave up after 2 attempts: no answer")
    assert failed["data"]["status"] is None


def test_without_a_signing_key_sets_wait_and_say_why(world: World, tmp_path: Path) -> None:
    live = _ssf_world(world, tmp_path)
    _stream(live, events=(CREDENTIAL_CHANGE,))
    case_id = helpdesk_recovery(live, "carol")
    _queue(live, _subject(live, "carol"), case_id)
    assert delivery.deliver_due(live.svc) == 1
    [backlog] = streams.backlog(live.svc).values()
    assert backlog.waiting == 1
    assert "custos ssf keys rotate" in (backlog.last_error or "")


def test_a_help_desk_recovery_is_initiated_by_an_admin_and_names_the_subject(
    world: World, tmp_path: Path
) -> None:
    """Without a confirmed email contact the subject is named as iss_sub."""
    live = _ssf_world(world, tmp_path)
    _stream(live)
    case_id = helpdesk_recovery(live, "carol")
    _queue(live, live.subject("dave", email=False), case_id)
    now = live.clock.now()
    with live.svc.uow() as uow:
        rows = uow.ssf_outbox.claim_due(now=now, until=now + delivery.LEASE, limit=10)
        uow.commit()
    claims = [outbox.claims_of(live.svc, row) for row in rows]
    assert [next(iter(c["events"])) for c in claims] == [CREDENTIAL_CHANGE, SESSION_REVOKED]
    for got in claims:
        event = next(iter(got["events"].values()))
        assert event["initiating_entity"] == "admin"
        assert "caller lost phone and password" in event["reason_admin"]["en"]
        assert got["sub_id"] == {
            "format": "iss_sub",
            "iss": live.svc.settings.public_origin,
            "sub": "dave",
        }
        assert got["txn"] == case_id
