"""A refused attestation alerts the security team by the signed webhook too,
through the notice outbox (R-22, R-43): the refusal writes the webhook in its
own transaction and sends nothing itself; the worker's sweep posts it once,
signed, and records the delivery. Nothing secret is in it (no link, no token)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from assisted_helpers import link_token, open_case, with_manager
from fastapi.testclient import TestClient
from proof_world import proof_world
from sqlalchemy import select
from webhook_receiver import Received, webhook_receiver  # noqa: F401 (``receiver``)

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.store.tables import ledger

SECRET = "attestation-webhook-secret-7d2a"


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: tuple[str, Received]
) -> Iterator[World]:
    url, _ = receiver
    yield from proof_world(
        request.param, tmp_path, security_webhook_url=url, security_webhook_secret=SECRET
    )


def _sent(world: World) -> list[dict[str, object]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == "notify:subject:sent")
        ).scalars()
        return [json.loads(r)["data"] for r in rows]


def test_a_refused_attestation_posts_one_signed_webhook_from_the_outbox(
    world: World, receiver: tuple[str, Received]
) -> None:
    """R-43: the refusal is an alert to security; R-22: it is sent at least
    once from the outbox, after the commit, by the worker."""
    _, received = receiver
    with_manager(world, "bob")
    with TestClient(create_app(world.svc)) as api:
        case_id = open_case(world, api, "bob")
        asked = api.post(
            f"/api/v1/cases/{case_id}/attestation",
            headers={"Authorization": f"Bearer {world.tokens['hana']}"},
        )
        assert asked.status_code == 202, asked.text
        token = link_token(world, "mia@example.org", "attestation_request")
        refused = api.post("/api/v1/attestations/refuse", json={"token": token})
        assert refused.status_code == 200, refused.text
    assert received == []  # the refusal only wrote the outbox
    world.drain()
    world.drain()
    [(headers, body)] = received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Custos-Signature"], expected)
    payload = json.loads(body)
    assert payload["type"] == "proofing:attestation:refused"
    assert payload["case"] == case_id and payload["subject"] == "bob"
    assert payload["attester"] == "mia" and payload["state"] == "proofing"
    assert token not in body.decode()
    assert {
        "kind": "attestation_refused",
        "channel": "webhook",
        "recipients": 1,
        "delivered": 1,
    } in _sent(world)
    world.drain()
    assert len(received) == 1  # delivered once, not again
