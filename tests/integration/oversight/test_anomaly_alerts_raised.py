"""Operator anomalies detected over a real ledger (issue 14, "Operator anomaly
detection"): an alert is stored once, recorded in the ledger in the same
transaction and sent to the security contact by mail and signed webhook; a
normal history raises nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from approval_world import world_on
from oversight_world import approve_three
from sqlalchemy import func, select
from webhook_receiver import Received, webhook_receiver  # noqa: F401 (``receiver``)

from conftest import BACKENDS, World
from custos.domain.events import EventType
from custos.domain.model import Role
from custos.service.oversight.anomalies import AnomalyPass, open_alerts, raise_alerts
from custos.store.tables import ledger

SECRET = "oversight-webhook-secret-77a2"
SECURITY = "security@example.org"


@pytest.fixture(params=BACKENDS)
def watched(
    request: pytest.FixtureRequest, tmp_path: Path, receiver: tuple[str, Received]
) -> Iterator[tuple[World, Received]]:
    url, received = receiver
    with world_on(
        request.param,
        tmp_path,
        security_webhook_url=url,
        security_webhook_secret=SECRET,
        security_address=SECURITY,
    ) as world:
        world.operator("ines", Role.APPROVER)
        yield world, received


def raised_entries(world: World) -> list[Any]:
    with world.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.seq, ledger.c.canonical).where(
                    ledger.c.type == str(EventType.OPERATOR_ANOMALY_RAISED)
                )
            )
        )


def ledger_size(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def test_fast_approvals_raise_one_alert_recorded_and_sent_once_when_run_twice(
    watched: tuple[World, Received],
) -> None:
    """Issue 14: approvals sooner than ``fast_approval`` after opening raise one
    alert citing them, one ledger entry, one mail and one signed webhook; the
    worker's second pass raises no duplicate."""
    world, received = watched
    approve_three(world, wait=timedelta(seconds=30))
    world.drain()

    [alert] = open_alerts(world.svc)
    assert alert.operator == "ines" and alert.signal == "fast_approval"
    with world.svc.engine.connect() as conn:
        approvals = [
            seq
            for (seq,) in conn.execute(
                select(ledger.c.seq)
                .where(ledger.c.type == str(EventType.CASE_APPROVED))
                .order_by(ledger.c.seq)
            )
        ]
    assert [e["seq"] for e in alert.entries] == approvals
    [(_, canonical)] = raised_entries(world)
    entry = json.loads(canonical)
    assert entry["data"]["alert"] == alert.id
    assert [e["seq"] for e in entry["data"]["evidence"]] == approvals

    [mail] = world.mail(SECURITY, "operator_anomaly")
    assert alert.id in mail["body"] and "fast_approval" in mail["body"]
    [(headers, body)] = received
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Custos-Signature"], expected)
    payload = json.loads(body)
    assert payload["alert"] == alert.id and payload["operator"] == "ines"
    assert SECRET not in body.decode() and SECRET not in mail["body"]

    # Later passes (the ledger grew with the delivery record; an hour later too).
    world.clock.advance(timedelta(hours=2))
    world.drain()
    assert raise_alerts(world.svc) == []
    assert len(open_alerts(world.svc)) == 1 and len(raised_entries(world)) == 1
    assert len(world.mail(SECURITY, "operator_anomaly")) == 1 and len(received) == 1


def test_unhurried_approvals_raise_nothing_when_history_is_normal(
    watched: tuple[World, Received],
) -> None:
    """Issue 14: a history within every threshold raises no alert (a false
    positive is a failure): no stored alert, no ledger entry, no mail, no webhook."""
    world, received = watched
    approve_three(world, wait=timedelta(minutes=10))
    world.drain()
    world.clock.advance(timedelta(hours=2))
    world.drain()

    assert open_alerts(world.svc) == []
    assert raised_entries(world) == []
    assert world.mail(SECURITY, "operator_anomaly") == [] and received == []


def test_scheduled_pass_skips_detection_when_the_ledger_did_not_grow(
    watched: tuple[World, Received],
) -> None:
    """Issue 14 (cheap schedule): a pass with no new ledger entry within the
    rerun interval does not run the detection again."""
    world, _ = watched
    schedule = AnomalyPass()
    approve_three(world, wait=timedelta(seconds=30))
    assert schedule.run_if_due(world.svc) == 1
    size = ledger_size(world)
    assert schedule.run_if_due(world.svc) == 0
    assert schedule.last_run == world.clock.now() and ledger_size(world) == size
