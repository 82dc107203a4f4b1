"""The fraud flag's security alert also goes out as a signed webhook when the
security webhook is configured (R-43, issue 4 "signed webhooks"), through the
notice outbox (R-22): the request sends nothing, the worker's sweep posts it
once and records the delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from approval_world import world_on
from sqlalchemy import select
from webhook_receiver import Received, free_port, serving, webhook_receiver  # noqa: F401

from conftest import BACKENDS, World, make_world
from custos.domain.model import Role
from custos.service.notices import webhooks
from custos.service.recovery import cases
from custos.service.signals import fraud
from custos.store.tables import ledger

SECRET = "webhook-shared-secret-3b1e"


def test_fraud_flag_posts_a_signed_security_webhook(
    tmp_path: Path, receiver: tuple[str, Received]
) -> None:
    url, received = receiver
    world: World = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        security_webhook_url=url,
        security_webhook_secret=SECRET,
    )
    world.subject("kim", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="kim", reason="caller"
    )
    fraud.flag_fraud(world.svc, world.operators["hana"], case.id, reason="voice did not match")
    assert received == []  # the request only wrote the outbox
    world.drain()
    world.drain()
    with world.svc.engine.connect() as conn:
        sent = [
            json.loads(c)["data"]
            for (c,) in conn.execute(
                select(ledger.c.canonical).where(ledger.c.type == "notify:subject:sent")
            )
        ]
    world.svc.engine.dispose()

    assert {"kind": "fraud_flagged", "channel": "webhook", "recipients": 1, "delivered": 1} in sent
    [(headers, body)] = received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Custos-Signature"], expected)
    payload = json.loads(body)
    assert payload["type"] == "case:fraud:flagged" and payload["case"] == case.id
    assert payload["state_after"] == "blocked" and payload["source"] == "operator"


@pytest.mark.parametrize("backend", BACKENDS)
def test_fraud_webhook_waits_in_the_outbox_for_a_receiver_that_is_down(
    backend: str, tmp_path: Path
) -> None:
    """R-43, R-22: the flag commits while the receiver is down; the webhook
    stays queued and a later sweep, once the receiver is up, posts it once."""
    port = free_port()
    received: Received = []
    settings = {
        "security_webhook_url": f"http://127.0.0.1:{port}/alerts",
        "security_webhook_secret": SECRET,
    }
    with world_on(backend, tmp_path, **settings) as world:
        world.subject("kim", with_totp=True)
        world.operator("hana", Role.REQUESTER)
        case = cases.open_helpdesk_case(
            world.svc, world.operators["hana"], subject_id="kim", reason="caller"
        )
        fraud.flag_fraud(world.svc, world.operators["hana"], case.id, reason="voice did not match")
        world.drain()  # refused: connection refused
        with serving(port, received):
            world.clock.advance(webhooks.FIRST_RETRY)
            world.drain()
            world.clock.advance(timedelta(hours=1))
            world.drain()
    [(headers, body)] = received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Custos-Signature"], expected)
    assert json.loads(body)["case"] == case.id
