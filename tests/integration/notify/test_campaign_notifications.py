"""Campaign notifications (docs/campaigns.md#ledger-events-and-notifications):
each change of a campaign's state goes out as a signed security webhook from
the notice outbox once committed (the worker's sweep posts it), and every
member hears of its own completed case as any recovery's subject does (R-22)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from webhook_receiver import Received, webhook_receiver  # noqa: F401 (``receiver``)

from conftest import World, make_world
from custos.domain.model import Role
from custos.service.campaigns import commands

SECRET = "campaign-webhook-secret-51c0"


def test_campaign_changes_post_signed_webhooks_and_members_get_notices(
    tmp_path: Path, receiver: tuple[str, Received]
) -> None:
    url, received = receiver
    world: World = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        security_webhook_url=url,
        security_webhook_secret=SECRET,
    )
    for name in ("lee", "max"):
        world.subject(name, groups=("incident-5",))
    world.operator("hana", Role.REQUESTER)
    for name in ("ada", "grace"):
        world.operator(name, Role.APPROVER, groups=("security-approvers",))
    campaign, _ = commands.start(
        world.svc,
        world.operators["hana"],
        group="incident-5",
        action="force-reset",
        reason="phished",
        ticket="INC-5",
    )
    commands.approve(world.svc, world.operators["ada"], campaign.id, reason="ok")
    commands.approve(world.svc, world.operators["grace"], campaign.id, reason="ok")
    assert received == []  # written to the outbox with each change; the worker posts them
    world.drain(passes=40)
    types = []
    for headers, body in received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Custos-Signature"], expected)
        payload = json.loads(body)
        assert payload["campaign"] == campaign.id and payload["ticket"] == "INC-5"
        types.append(payload["type"])
    assert types == [
        "oversight:campaign:started",
        "oversight:campaign:approved",
        "oversight:campaign:finished",
    ]
    for name in ("lee", "max"):
        [notice] = world.mail(f"{name}@example.org", "recovery_notice")
        assert "campaign" in notice["body"]  # the channel it came through
    world.svc.engine.dispose()
