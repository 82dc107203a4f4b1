"""A World with a test-local policy that allows SMS codes and states a step-up
for every band (medium: a second factor; high: a phishing-resistant factor and an
approval; the ``guarded`` group is refused at high), plus helpers for phones,
SMS texts and signed SIM-swap webhooks."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from conftest import World, make_world, pg_database
from custos.domain.model import Contact, ContactKind
from custos.notify.sms import read_sms_outbox
from custos.service.signals import risk_signals

RA = '"RA-TEST-1: test risk analysis"'
POLICY = f"""
version: 1
risk_bands: {{low: [0, 39], medium: [40, 69], high: [70, 100]}}
defaults: {{case_ttl: 24h, max_proofing_failures: 100, approval_expiry: 4h}}
tiers:
  - name: guarded
    match: {{groups: [guarded]}}
    risk_analysis: {RA}
    channels: [self_service, helpdesk]
    proofing: {{factors: 1, methods: [totp, recovery_code, email_code, sms_code, webauthn]}}
    step_up:
      high: {{refuse: true, reason: "guarded accounts are not recovered at high risk"}}
    action: reset_token
    token_ttl: 15m
    post_checks: [read_back, sessions_revoked]
  - name: standard
    match: {{kind: human}}
    risk_analysis: {RA}
    channels: [self_service, helpdesk]
    proofing: {{factors: 1, methods: [totp, recovery_code, email_code, sms_code, webauthn]}}
    step_up:
      medium: {{factors: 2}}
      high: {{factors: 2, phishing_resistant: true, approvals: 1}}
    action: reset_token
    token_ttl: 15m
    post_checks: [read_back, sessions_revoked]
"""
WEBHOOK_SECRET = "carrier-shared-secret-for-tests-0123456789"


def risk_world(backend: str, tmp_path: Path, **settings: Any) -> Iterator[World]:
    """Yield a World on ``backend`` (``sqlite`` or ``postgres``) with :data:`POLICY`."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    settings = {
        "policy_file": policy,
        "sim_swap_webhook_secret": WEBHOOK_SECRET,
        "enumeration_floor_ms": 0,
        **settings,
    }
    if backend == "sqlite":
        w = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **settings)
        yield w
        w.svc.engine.dispose()
        return
    with pg_database() as url:
        w = make_world(url, tmp_path, **settings)
        try:
            yield w
        finally:
            w.svc.engine.dispose()


def add_phone(world: World, subject_id: str, number: str = "+491701234567") -> None:
    """Give the subject a confirmed phone contact."""
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        assert subject is not None
        phone = Contact(ContactKind.SMS, number, True)
        uow.subjects.update(replace(subject, contacts=(*subject.contacts, phone)))
        uow.commit()


def texts(world: World) -> list[dict[str, Any]]:
    """The texts sent so far, after the notices waiting in the outbox were sent."""
    world.send_notices()
    return read_sms_outbox(world.svc.settings.effective_sms_outbox)


def last_sms_code(world: World) -> str:
    match = re.search(r"code: (\d{8})\.", texts(world)[-1]["body"])
    assert match, texts(world)
    return match.group(1)


def signed_sim_swap(
    world: World,
    subject_id: str | None,
    *,
    at: float | None = None,
    kind: str = "sim_swap",
    phone: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A body and headers as the carrier would send them, naming the subject by
    id or (``subject_id`` None) by ``phone``, signed for time ``at`` (default:
    the world's clock)."""
    named = {"subject": subject_id} if subject_id is not None else {"phone": phone}
    body = json.dumps({**named, "kind": kind, "provider": "test-carrier"}).encode()
    stamp = str(int(at if at is not None else world.clock.now().timestamp()))
    signature = risk_signals.sign(WEBHOOK_SECRET.encode(), stamp, body)
    return body, {
        risk_signals.TIMESTAMP_HEADER: stamp,
        risk_signals.SIGNATURE_HEADER: signature,
        "Content-Type": "application/json",
    }


def report_sim_swap(world: World, subject_id: str) -> None:
    """The carrier's signed SIM-swap report for ``subject_id``, received now."""
    body, headers = signed_sim_swap(world, subject_id)
    risk_signals.receive_sim_swap(
        world.svc,
        body=body,
        timestamp=headers[risk_signals.TIMESTAMP_HEADER],
        signature=headers[risk_signals.SIGNATURE_HEADER],
    )


def now_unix() -> float:
    return time.time()
