"""An operator anomaly alert reaches the security team through the notice
outbox (issue 14; R-22): its mail and signed webhook are written in the
alert's transaction and only the worker's sweep sends them, to the real SMTP
server and webhook receiver of the tests. A receiver that is down at first
gets the webhook on a later sweep; a worker killed between the commit and the
send loses nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing as mp
import os
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from approval_world import world_on
from oversight_world import approve_three
from process_race import settings_of
from servers.smtp import SmtpServer
from sqlalchemy import func, select
from webhook_receiver import Received, free_port, serving, webhook_receiver  # noqa: F401

from conftest import BACKENDS, World
from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
from custos.domain.events import EventType
from custos.propagation.worker import Worker
from custos.service.notices import outbox, webhooks
from custos.service.oversight.anomalies import open_alerts
from custos.store.tables import ledger, notice_outbox

SECRET = "anomaly-delivery-secret-5c0d"
SECURITY = "soc@example.org"


def _settings(smtp: SmtpServer, url: str) -> dict[str, Any]:
    return {
        "smtp": smtp.settings(),
        "security_address": SECURITY,
        "security_webhook_url": url,
        "security_webhook_secret": SECRET,
    }


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def delivering(
    backend: str, tmp_path: Path, smtp: SmtpServer, receiver: tuple[str, Received]
) -> Iterator[tuple[World, Received]]:
    """A World mailing through the real SMTP server, posting to the receiver."""
    url, received = receiver
    with world_on(backend, tmp_path, **_settings(smtp, url)) as world:
        world.mail_server = smtp  # the sponsors' attestation links arrive there
        yield world, received


def webhook_rows(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(notice_outbox)
                .where(notice_outbox.c.channel == "webhook")
            ).scalar_one()
        )


def deliveries(world: World) -> list[tuple[str, dict[str, Any]]]:
    """The webhook delivery records of the ledger: (type, data)."""
    types = [str(EventType.NOTIFICATION_SENT), str(EventType.NOTIFICATION_FAILED)]
    with world.svc.engine.connect() as conn:
        rows = conn.execute(select(ledger.c.canonical).where(ledger.c.type.in_(types)))
        found = [json.loads(c) for (c,) in rows]
    return [(e["type"], e["data"]) for e in found if e["data"].get("channel") == "webhook"]


def assert_signed(body: bytes, headers: dict[str, str], alert_id: str) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Custos-Signature"], expected)
    payload = json.loads(body)
    assert payload["alert"] == alert_id and payload["signal"] == "fast_approval"
    assert SECRET not in body.decode()


def test_alert_mail_and_webhook_arrive_once_through_smtp_and_the_receiver(
    delivering: tuple[World, Received], smtp: SmtpServer
) -> None:
    """Issue 14, R-22: the detection's commit sends nothing itself; the worker's
    sweep delivers one mail (real SMTP) and one signed webhook, records the
    webhook's delivery, and later passes send neither again."""
    world, received = delivering
    approve_three(world, wait=timedelta(seconds=30))
    world.drain()  # the worker: the detection, then the sweep
    [alert] = open_alerts(world.svc)
    [(headers, body)] = received
    assert_signed(body, headers, alert.id)
    [mail] = smtp.to(SECURITY, "operator_anomaly")
    assert alert.id in mail.text and SECRET not in mail.text
    assert deliveries(world) == [
        (
            str(EventType.NOTIFICATION_SENT),
            {"kind": "operator_anomaly", "recipients": 1, "delivered": 1, "channel": "webhook"},
        )
    ]
    assert webhook_rows(world) == 0

    world.clock.advance(timedelta(hours=2))  # the detection reruns: nothing new
    world.drain()
    assert len(received) == 1 and len(smtp.to(SECURITY, "operator_anomaly")) == 1


def test_a_receiver_down_at_first_gets_the_webhook_on_a_later_sweep(
    backend: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    """Issue 14, R-22: a post refused (receiver down) keeps the webhook in the
    outbox, due again later; once the receiver is up, the next due sweep posts
    it, once. No failure is recorded for a webhook that is still retried."""
    port = free_port()
    received: Received = []
    with world_on(backend, tmp_path, **_settings(smtp, f"http://127.0.0.1:{port}/alerts")) as world:
        world.mail_server = smtp  # the sponsors' attestation links arrive there
        approve_three(world, wait=timedelta(seconds=30))
        world.drain()
        [alert] = open_alerts(world.svc)
        assert webhook_rows(world) == 1 and deliveries(world) == []
        assert len(smtp.to(SECURITY, "operator_anomaly")) == 1  # the mail is not held up

        with serving(port, received):
            world.drain()  # not due yet: the retry waits
            assert received == []
            world.clock.advance(webhooks.FIRST_RETRY)
            world.drain()
            world.clock.advance(timedelta(hours=1))
            world.drain()
        [(headers, body)] = received
        assert_signed(body, headers, alert.id)
        assert webhook_rows(world) == 0
        assert [t for t, _ in deliveries(world)] == [str(EventType.NOTIFICATION_SENT)]


def test_a_webhook_whose_receiver_stays_down_is_given_up_and_recorded(
    backend: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    """R-22: retried for ``webhooks.RETRY_FOR`` after it was queued, then
    dropped with a ``notify:subject:failed`` record (never silently)."""
    url = f"http://127.0.0.1:{free_port()}/alerts"
    with world_on(backend, tmp_path, **_settings(smtp, url)) as world:
        world.mail_server = smtp  # the sponsors' attestation links arrive there
        approve_three(world, wait=timedelta(seconds=30))
        world.drain()
        for _ in range(30):  # hourly sweeps (the longest wait) past a day
            assert deliveries(world) == [] and webhook_rows(world) == 1
            world.clock.advance(webhooks.LONGEST_WAIT)
            world.drain()
            if deliveries(world):
                break
        assert webhook_rows(world) == 0
        [(kind, data)] = deliveries(world)
        assert kind == str(EventType.NOTIFICATION_FAILED) and data["delivered"] == 0


def _doomed_worker(settings: dict[str, Any], now: str) -> None:
    """A worker that dies (SIGKILL) the moment it would post a webhook: after
    the detection committed, before anything was sent to the receiver."""
    import httpx

    svc = bootstrap(load_settings(None, **settings), clock=ManualClock(datetime.fromisoformat(now)))

    def die(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    httpx.post = die  # type: ignore[assignment]
    worker = Worker(svc, owner="doomed")
    for _ in range(10):
        worker.run_once()


def test_a_worker_killed_between_commit_and_send_loses_nothing(
    delivering: tuple[World, Received], smtp: SmtpServer
) -> None:
    """Issue 14, R-22: the worker that raised the alert is killed before the
    webhook left; the alert is committed, and the next worker, once the dead
    one's lease ran out, posts the webhook once and mails the alert."""
    world, received = delivering
    approve_three(world, wait=timedelta(seconds=30))
    webhook_url = world.svc.settings.security_webhook_url
    assert webhook_url is not None
    settings = {**settings_of(world), **_settings(smtp, webhook_url)}
    world.svc.engine.dispose()  # no pooled connection crosses the fork
    child = mp.get_context("fork").Process(
        target=_doomed_worker, args=(settings, world.clock.now().isoformat())
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL
    [alert] = open_alerts(world.svc)  # committed before the kill
    assert received == []

    world.clock.advance(outbox.LEASE + timedelta(seconds=1))
    world.drain()
    [(headers, body)] = received
    assert_signed(body, headers, alert.id)
    assert len(smtp.to(SECURITY, "operator_anomaly")) >= 1  # at least once
    assert webhook_rows(world) == 0
