"""The transmitter's public metadata and JWKS, and the stream management API
(SSF 1.0 §7, §8.1) over HTTP against a live Custos: only admins manage
streams, every change is in the ledger, invalid configurations are refused,
and a verification request reaches the receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from ssf_world import SsfWorld, ssf_world

from conftest import BACKENDS
from custos.domain.model import Role
from custos.domain.shared_signals import CREDENTIAL_CHANGE, SESSION_REVOKED, VERIFICATION
from custos.store.tables import ledger

PUSH = "urn:ietf:rfc:8935"


@pytest.fixture(params=BACKENDS)
def ssf(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SsfWorld]:
    with ssf_world(request.param, tmp_path) as live:
        yield live


def _types(live: SsfWorld) -> list[str]:
    with live.world.svc.engine.connect() as conn:
        query = select(ledger.c.type).where(ledger.c.type.like("admin:ssf_stream:%"))
        rows = conn.execute(query.order_by(ledger.c.leaf_index))
        return [r.type for r in rows]


def test_the_metadata_names_the_endpoints_and_the_jwks_holds_public_keys_only(
    ssf: SsfWorld,
) -> None:
    with ssf.http as client:
        metadata = client.get("/.well-known/ssf-configuration")
        assert metadata.status_code == 200
        assert metadata.headers["content-type"] == "application/json"
        doc = metadata.json()
        jwks = client.get(doc["jwks_uri"].removeprefix(ssf.origin)).json()
    assert doc["spec_version"] == "1_0"
    assert doc["issuer"] == ssf.origin
    assert doc["delivery_methods_supported"] == [PUSH]
    assert doc["configuration_endpoint"] == f"{ssf.origin}/api/v1/ssf/streams"
    assert doc["status_endpoint"] == f"{ssf.origin}/api/v1/ssf/status"
    assert doc["verification_endpoint"] == f"{ssf.origin}/api/v1/ssf/verify"
    assert doc["default_subjects"] == "ALL"
    [key] = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_streams_are_managed_by_admins_only(ssf: SsfWorld) -> None:
    requester = ssf.world.operator("hana", Role.REQUESTER)
    auditor = ssf.world.operator("audrey", Role.AUDITOR)
    body = {"delivery": {"method": PUSH, "endpoint_url": "http://127.0.0.1:9/events"}}
    with ssf.http as client:
        assert client.post("/api/v1/ssf/streams", json=body).status_code == 401
        for token in (requester, auditor):
            refused = client.post("/api/v1/ssf/streams", json=body, headers=ssf.headers(token))
            assert refused.status_code == 403
            assert refused.json()["error"]["id"] == "not_authorized"
            listed = client.get("/api/v1/ssf/streams", headers=ssf.headers(token))
            assert listed.status_code == 403
        assert client.get("/api/v1/ssf/streams", headers=ssf.headers()).json() == []
    assert _types(ssf) == []


def test_a_stream_is_created_read_updated_replaced_and_deleted(ssf: SsfWorld) -> None:
    receiver = ssf.receiver()
    create = {
        "delivery": {
            "method": PUSH,
            "endpoint_url": receiver.url,
            "authorization_header": "Bearer crud-secret",
        },
        "events_requested": [SESSION_REVOKED, "urn:example:other"],
        "description": "portal",
    }
    with ssf.http as client:
        created = client.post("/api/v1/ssf/streams", json=create, headers=ssf.headers())
        assert created.status_code == 201, created.text
        stream = created.json()
        stream_id = stream["stream_id"]
        assert stream["iss"] == ssf.origin
        assert stream["aud"] == receiver.url.rsplit("/", 1)[0]  # default: the origin
        assert stream["delivery"] == {"method": PUSH, "endpoint_url": receiver.url}
        assert stream["events_supported"] == [CREDENTIAL_CHANGE, SESSION_REVOKED]
        assert stream["events_requested"] == [SESSION_REVOKED, "urn:example:other"]
        assert stream["events_delivered"] == [SESSION_REVOKED]
        assert stream["description"] == "portal"
        read = client.get(
            "/api/v1/ssf/streams", params={"stream_id": stream_id}, headers=ssf.headers()
        )
        assert read.json() == stream
        assert client.get("/api/v1/ssf/streams", headers=ssf.headers()).json() == [stream]

        patched = client.patch(
            "/api/v1/ssf/streams",
            json={"stream_id": stream_id, "description": "portal v2", "aud": stream["aud"]},
            headers=ssf.headers(),
        )
        assert patched.status_code == 200, patched.text
        assert patched.json() == {**stream, "description": "portal v2"}

        replaced = client.put(
            "/api/v1/ssf/streams",
            json={
                "stream_id": stream_id,
                "delivery": {"method": PUSH, "endpoint_url": receiver.url},
                "events_requested": [CREDENTIAL_CHANGE],
            },
            headers=ssf.headers(),
        )
        assert replaced.status_code == 200, replaced.text
        assert "description" not in replaced.json()
        assert replaced.json()["events_delivered"] == [CREDENTIAL_CHANGE]

        status = client.get(
            "/api/v1/ssf/status", params={"stream_id": stream_id}, headers=ssf.headers()
        )
        assert status.json() == {"stream_id": stream_id, "status": "enabled"}

        deleted = client.delete(
            "/api/v1/ssf/streams", params={"stream_id": stream_id}, headers=ssf.headers()
        )
        assert deleted.status_code == 204 and deleted.content == b""
        gone = client.get(
            "/api/v1/ssf/streams", params={"stream_id": stream_id}, headers=ssf.headers()
        )
        assert gone.status_code == 404
        assert gone.json()["error"]["id"] == "stream_not_found"
    assert _types(ssf) == [
        "admin:ssf_stream:created",
        "admin:ssf_stream:updated",
        "admin:ssf_stream:updated",
        "admin:ssf_stream:deleted",
    ]
    with ssf.world.svc.engine.connect() as conn:
        text = " ".join(r.canonical for r in conn.execute(select(ledger.c.canonical)))
    assert "crud-secret" not in text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "delivery"),
        ({"delivery": {"method": "urn:ietf:rfc:8936", "endpoint_url": "https://rp"}}, "method"),
        ({"delivery": {"method": PUSH, "endpoint_url": "http://rp.example.net/e"}}, "endpoint"),
        ({"delivery": {"method": PUSH, "endpoint_url": "https://u:p@rp.example.net/"}}, "endpoint"),
        (
            {
                "delivery": {
                    "method": PUSH,
                    "endpoint_url": "https://rp.example.net/e",
                    "authorization_header": "Bearer a\r\nX-Injected: 1",
                }
            },
            "authorization",
        ),
        ({"delivery": {"method": PUSH, "endpoint_url": "https://rp"}, "iss": "x"}, "iss"),
    ],
)
def test_a_stream_that_cannot_work_is_refused(
    ssf: SsfWorld, body: dict[str, Any], field: str
) -> None:
    with ssf.http as client:
        answer = client.post("/api/v1/ssf/streams", json=body, headers=ssf.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["id"] == "invalid_input"
    assert field in answer.text
    assert "X-Injected" not in answer.text


def test_transmitter_supplied_properties_cannot_be_changed(ssf: SsfWorld) -> None:
    stream_id = ssf.add_stream(ssf.receiver())
    with ssf.http as client:
        for change in ({"aud": "https://other.example"}, {"iss": "https://evil.example"}):
            answer = client.patch(
                "/api/v1/ssf/streams",
                json={"stream_id": stream_id, **change},
                headers=ssf.headers(),
            )
            assert answer.status_code == 422, answer.text
        unknown = client.patch(
            "/api/v1/ssf/streams",
            json={"stream_id": "f" * 32, "description": "x"},
            headers=ssf.headers(),
        )
        assert unknown.status_code == 404


def test_a_verification_event_reaches_the_receiver_with_its_state(ssf: SsfWorld) -> None:
    receiver = ssf.receiver()
    stream_id = ssf.add_stream(receiver)
    with ssf.http as client:
        asked = client.post(
            "/api/v1/ssf/verify",
            json={"stream_id": stream_id, "state": "c3RhdGUtMQ"},
            headers=ssf.headers(),
        )
        assert asked.status_code == 204, asked.text
        again = client.post(
            "/api/v1/ssf/verify", json={"stream_id": stream_id}, headers=ssf.headers()
        )
        assert again.status_code == 429
        assert int(again.headers["retry-after"]) >= 1
    ssf.world.drain()
    [got] = receiver.received
    assert got.verified, got.problem
    assert got.event_type == VERIFICATION
    assert got.event == {"state": "c3RhdGUtMQ"}
    assert got.claims["sub_id"] == {"format": "opaque", "id": stream_id}
    assert "txn" not in got.claims
    ssf.world.clock.advance(timedelta(seconds=11))
    with ssf.http as client:
        client.post(
            "/api/v1/ssf/status",
            json={"stream_id": stream_id, "status": "disabled"},
            headers=ssf.headers(),
        ).raise_for_status()
        disabled = client.post(
            "/api/v1/ssf/verify", json={"stream_id": stream_id}, headers=ssf.headers()
        )
    assert disabled.status_code == 409
    assert disabled.json()["error"]["id"] == "stream_disabled"
