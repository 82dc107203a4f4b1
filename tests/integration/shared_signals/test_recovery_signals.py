"""A completed recovery reaches every relying party's stream as signed CAEP
events (R-31), pushed by the worker to a real receiver on loopback that
verifies each SET against the JWKS Custos publishes over HTTP; delivery is at
least once, and a receiver's refusal is recorded with its ``err``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_json import LedgerEvent, ledger_event
from recoveries import PASSWORD, self_service_recovery
from sqlalchemy import select
from ssf_world import SsfWorld, ssf_world

from conftest import BACKENDS
from custos.domain.shared_signals import CREDENTIAL_CHANGE, SESSION_REVOKED
from custos.service.shared_signals import streams
from custos.store.tables import ledger, ssf_outbox, ssf_streams


@pytest.fixture(params=BACKENDS)
def ssf(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SsfWorld]:
    with ssf_world(request.param, tmp_path) as live:
        yield live


def _ledger(live: SsfWorld, type_: str) -> list[LedgerEvent]:
    with live.world.svc.engine.connect() as conn:
        query = select(ledger.c.canonical).where(ledger.c.type == type_)
        rows = conn.execute(query.order_by(ledger.c.leaf_index))
        return [ledger_event(r.canonical) for r in rows]


def _waiting(live: SsfWorld) -> int:
    with live.world.svc.engine.connect() as conn:
        return len(conn.execute(select(ssf_outbox.c.id)).all())


def test_a_completed_recovery_signals_credential_change_and_session_revoked(
    ssf: SsfWorld,
) -> None:
    """R-31: the relying party gets both CAEP events of the recovery, signed and
    verifiable with the published JWKS, naming the case and its reason."""
    receiver = ssf.receiver()
    ssf.add_stream(receiver)
    ssf.world.subject("bob")
    case_id = self_service_recovery(ssf.world, "bob")
    assert receiver.received == []  # nothing leaves before the case completes
    ssf.world.drain()
    assert [r.verified for r in receiver.received] == [True, True], [
        r.problem for r in receiver.received
    ]
    change, revoked = receiver.received
    assert (change.event_type, revoked.event_type) == (CREDENTIAL_CHANGE, SESSION_REVOKED)
    for got in (change, revoked):
        assert got.content_type == "application/secevent+jwt"
        assert got.jose["typ"] == "secevent+jwt"
        assert got.claims["iss"] == ssf.origin
        assert got.claims["aud"] == receiver.audience
        assert got.claims["txn"] == case_id
        assert got.claims["sub_id"] == {"format": "email", "email": "bob@example.org"}
        assert got.event["initiating_entity"] == "user"
        assert case_id in got.event["reason_admin"]["en"]
        assert got.event["event_timestamp"] == int(ssf.world.clock.now().timestamp())
    assert change.event["credential_type"] == "password"
    assert change.event["change_type"] == "update"
    assert change.claims["jti"] != revoked.claims["jti"]
    delivered = _ledger(ssf, "ssf:set:delivered")
    assert {(e["case"], e["data"]["event"]) for e in delivered} == {
        (case_id, "credential-change"),
        (case_id, "session-revoked"),
    }
    assert _waiting(ssf) == 0


def test_a_stream_gets_only_the_events_it_asked_for(ssf: SsfWorld) -> None:
    receiver = ssf.receiver()
    ssf.add_stream(receiver, events=[CREDENTIAL_CHANGE, "urn:example:unknown"])
    ssf.world.subject("bob")
    self_service_recovery(ssf.world, "bob")
    ssf.world.drain()
    assert [r.event_type for r in receiver.received] == [CREDENTIAL_CHANGE]


def test_a_receiver_that_is_down_gets_the_sets_once_it_is_back(ssf: SsfWorld) -> None:
    """At least once: the SETs wait in the outbox, are retried with backoff and
    delivered (same jti) once the receiver answers again."""
    receiver = ssf.receiver(start=False)
    ssf.add_stream(receiver)
    ssf.world.subject("bob")
    self_service_recovery(ssf.world, "bob")
    ssf.world.drain()
    assert _waiting(ssf) == 2
    assert _ledger(ssf, "ssf:set:delivered") == []
    backlog = streams.backlog(ssf.world.svc)
    assert [b.waiting for b in backlog.values()] == [2]
    assert "no answer" in (next(iter(backlog.values())).last_error or "")

    ssf.world.clock.advance(timedelta(seconds=4))  # the first retry waits 5 s
    ssf.world.drain()
    assert _waiting(ssf) == 2
    receiver.start()
    ssf.world.clock.advance(timedelta(seconds=2))
    ssf.world.drain()
    assert [r.verified for r in receiver.received] == [True, True]
    assert [r.event_type for r in receiver.received] == [CREDENTIAL_CHANGE, SESSION_REVOKED]
    assert _waiting(ssf) == 0
    delivered = _ledger(ssf, "ssf:set:delivered")
    assert [e["data"]["attempts"] for e in delivered] == [2, 1]
    jtis = {e["data"]["jti"] for e in delivered}
    assert jtis == {r.claims["jti"] for r in receiver.received}


def test_a_refusal_is_recorded_as_failed_with_its_err_and_not_retried(ssf: SsfWorld) -> None:
    receiver = ssf.receiver()
    receiver.refuse_with = "invalid_audience"
    ssf.add_stream(receiver, events=[CREDENTIAL_CHANGE])
    ssf.world.subject("bob")
    case_id = self_service_recovery(ssf.world, "bob")
    ssf.world.drain()
    assert len(receiver.received) == 1
    failed = _ledger(ssf, "ssf:set:failed")
    assert len(failed) == 1
    assert failed[0]["case"] == case_id
    assert failed[0]["outcome"] == "failure"
    assert failed[0]["data"]["err"] == "invalid_audience"
    assert failed[0]["data"]["status"] == 400
    assert "invalid_audience" in str(failed[0]["reason"])
    assert _waiting(ssf) == 0
    ssf.world.clock.advance(timedelta(hours=1))
    ssf.world.drain()
    assert len(receiver.received) == 1


def test_the_push_authorization_is_sent_but_never_shown_or_stored_in_clear(
    ssf: SsfWorld,
) -> None:
    secret = "Bearer rp-secret-7c1d9e4b"
    receiver = ssf.receiver()
    stream_id = ssf.add_stream(receiver, authorization=secret)
    ssf.world.subject("bob")
    self_service_recovery(ssf.world, "bob")
    ssf.world.drain()
    assert [r.headers.get("authorization") for r in receiver.received] == [secret, secret]
    with ssf.http as client:
        one = client.get(
            "/api/v1/ssf/streams", params={"stream_id": stream_id}, headers=ssf.headers()
        )
        every = client.get("/api/v1/ssf/streams", headers=ssf.headers())
    assert one.status_code == every.status_code == 200
    assert "rp-secret" not in one.text + every.text
    assert set(one.json()["delivery"]) == {"method", "endpoint_url"}
    with ssf.world.svc.engine.connect() as conn:
        sealed = conn.execute(select(ssf_streams.c.sealed_authorization)).scalar_one()
        canonical = " ".join(r.canonical for r in conn.execute(select(ledger.c.canonical)))
    assert b"rp-secret" not in bytes(sealed)
    assert "rp-secret" not in canonical
    assert PASSWORD not in canonical


def test_a_paused_stream_holds_its_sets_and_a_disabled_one_drops_them(ssf: SsfWorld) -> None:
    held, dropped = ssf.receiver(), ssf.receiver()
    held_id, dropped_id = ssf.add_stream(held), ssf.add_stream(dropped)
    for stream_id, status in ((held_id, "paused"), (dropped_id, "paused")):
        with ssf.http as client:
            answer = client.post(
                "/api/v1/ssf/status",
                json={"stream_id": stream_id, "status": status},
                headers=ssf.headers(),
            )
        assert answer.status_code == 200, answer.text
    ssf.world.subject("bob")
    self_service_recovery(ssf.world, "bob")
    ssf.world.drain()
    assert held.received == dropped.received == []
    assert _waiting(ssf) == 4
    with ssf.http as client:
        client.post(
            "/api/v1/ssf/status",
            json={"stream_id": dropped_id, "status": "disabled", "reason": "decommissioned"},
            headers=ssf.headers(),
        ).raise_for_status()
        client.post(
            "/api/v1/ssf/status",
            json={"stream_id": held_id, "status": "enabled"},
            headers=ssf.headers(),
        ).raise_for_status()
    ssf.world.drain()
    assert [r.verified for r in held.received] == [True, True]
    assert dropped.received == []
    assert _waiting(ssf) == 0
    changed = _ledger(ssf, "admin:ssf_stream:status_changed")
    assert [e["data"]["dropped"] for e in changed][-2] == 2
