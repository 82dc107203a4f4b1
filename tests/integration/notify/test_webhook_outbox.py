"""Security webhooks through the notice outbox (docs/notifications.md): a
webhook written in a transaction leaves only with the worker's sweep, once,
signed with the shared secret, and its delivery is recorded; one that cannot
be sent (no webhook configured) is recorded as failed and dropped. SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from break_glass_world import WEBHOOK_SECRET, alerts
from sqlalchemy import select
from webhook_receiver import Received, webhook_receiver  # noqa: F401 (``receiver``)

from conftest import BACKENDS, World, _world
from custos.notify.webhook import WebhookNotice
from custos.service.notices import webhooks
from custos.store.tables import ledger

PAYLOAD = {"type": "governance:break_glass:used", "case": "case-1", "subject": "bob"}


@pytest.fixture(params=BACKENDS)
def hooked(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: tuple[str, Received]
) -> Iterator[tuple[World, Received]]:
    url, received = receiver
    for world in _world(
        request.param, tmp_path, security_webhook_url=url, security_webhook_secret=WEBHOOK_SECRET
    ):
        yield world, received


def queue(world: World, *, commit: bool = True) -> None:
    world.subject("bob")
    notice = WebhookNotice(kind="break_glass_used", payload=PAYLOAD, case_id="case-1")
    with world.svc.uow() as uow:
        webhooks.queue(world.svc, uow, notice, subject_id="bob")
        if commit:
            uow.commit()


def deliveries(world: World) -> list[dict[str, object]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type.like("notify:%")).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows if "webhook:" in r]


def test_a_queued_webhook_leaves_once_signed_with_the_sweep(
    hooked: tuple[World, Received],
) -> None:
    world, received = hooked
    queue(world)
    assert not received  # nothing leaves before the sweep
    assert world.send_notices() == 1
    assert alerts(received) == [PAYLOAD]  # signature checked against the secret
    assert world.send_notices() == 0  # the row is gone: sent once
    (event,) = deliveries(world)
    assert event["outcome"] == "success"
    assert event["data"] == {"kind": "webhook:break_glass_used", "recipients": 1, "delivered": 1}


def test_a_rolled_back_webhook_never_leaves(hooked: tuple[World, Received]) -> None:
    world, received = hooked
    queue(world, commit=False)
    assert world.send_notices() == 0 and not received


def test_a_webhook_without_a_configured_url_is_recorded_as_failed(
    tmp_path: Path, receiver: tuple[str, Received]
) -> None:
    for world in _world("sqlite", tmp_path):
        queue(world)
        assert world.send_notices() == 1
        (event,) = deliveries(world)
        assert event["outcome"] == "failure"
        assert event["reason"] == "the security webhook is not configured"
        assert not receiver[1]
