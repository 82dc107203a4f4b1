"""A Custos for break-glass tests (docs/exceptions.md): mail through the
loopback SMTP server, the signed security webhook to the local receiver, the
staff a break-glass needs, a held contractor with a blocked case and an
active ``break_glass`` exception covering them."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from mail_world import SECURITY_ADDRESS, mail_world
from servers.smtp import SmtpServer
from sponsor_attestation import with_sponsor
from webhook_receiver import Received

from conftest import World
from custos.domain.errors import RecoveryBlocked
from custos.domain.exceptions import Relaxation
from custos.domain.model import Employment, Role
from custos.notify.webhook import SIGNATURE_HEADER
from custos.service.exceptions import commands as exceptions
from custos.service.holds import commands as holds
from custos.service.recovery import cases

WEBHOOK_SECRET = "break-glass-webhook-secret-5c1e"
SECURITY = SECURITY_ADDRESS
BREAK_GLASS_USED = "governance:break_glass:used"


def glass_world(
    backend: str,
    tmp_path: Path,
    smtp: SmtpServer,
    receiver: tuple[str, Received],
    **more: Any,
) -> Iterator[World]:
    """A World on ``backend`` alerting by mail (SMTP) and by signed webhook
    (``more``: further settings, e.g. a policy file)."""
    url, _ = receiver
    yield from mail_world(
        backend,
        tmp_path,
        smtp.settings(),
        server=smtp,
        security_webhook_url=url,
        security_webhook_secret=WEBHOOK_SECRET,
        **more,
    )


def staff(world: World) -> None:
    """hana and rita (help desk), ada, grace and sue (security approvers),
    linus and margaret (approvers), edsger (executor), barbara (auditor),
    finn (help desk for finance only), eve (executor only)."""
    world.operator("hana", Role.REQUESTER)
    world.operator("rita", Role.REQUESTER)
    for name in ("ada", "grace", "sue"):
        world.operator(name, Role.APPROVER, groups=("security-approvers",))
    world.operator("linus", Role.APPROVER)
    world.operator("margaret", Role.APPROVER)
    world.operator("edsger", Role.EXECUTOR)
    world.operator("barbara", Role.AUDITOR)
    world.operator("finn", Role.REQUESTER, scope=("finance",))
    world.operator("eve", Role.EXECUTOR)


def held_subject(world: World, subject_id: str) -> str:
    """A contractor with TOTP and a sponsor under a legal hold set by ada;
    returns the hold id."""
    world.subject(subject_id, employment=Employment.CONTRACTOR, with_totp=True)
    with_sponsor(world, subject_id)
    change = holds.set_hold(
        world.svc,
        world.operators["ada"],
        kind="legal_hold",
        reason="litigation 12",
        ticket="LEG-12",
        subject_id=subject_id,
    )
    return change.hold.id


def blocked_case(world: World, subject_id: str) -> str:
    """A case hana opens for a held subject: refused ``recovery_blocked`` and
    kept ``blocked``; returns its id."""
    try:
        cases.open_helpdesk_case(
            world.svc, world.operators["hana"], subject_id=subject_id, reason="locked out"
        )
    except RecoveryBlocked as exc:
        return str(exc.details["case_id"])
    raise AssertionError("the case of a held subject opened")


def glass_exception(
    world: World,
    subject_id: str,
    *,
    approvers: tuple[str, ...] = ("ada", "grace"),
    relaxation: Relaxation = Relaxation.BREAK_GLASS,
    value: str = "",
    hours: int = 24,
) -> str:
    """A ``break_glass`` exception rita requests for ``subject_id``, approved
    by ``approvers`` (two: active); returns its id."""
    record = exceptions.request_exception(
        world.svc,
        world.operators["rita"],
        reason="CFO locked out during quarter close",
        ticket="INC-4711",
        relaxation=relaxation,
        value=value,
        ends_at=world.clock.now() + timedelta(hours=hours),
        subject_ids=(subject_id,),
    )
    for name in approvers:
        exceptions.approve_exception(world.svc, world.operators[name], record.id)
    return record.id


def alerts(received: Received) -> list[dict[str, Any]]:
    """The break-glass webhooks received, each checked against its HMAC-SHA256
    signature under the shared secret (a bad one fails the test)."""
    found = []
    for headers, body in received:
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
        payload = json.loads(body)
        if payload["type"] == BREAK_GLASS_USED:
            found.append(payload)
    return found
