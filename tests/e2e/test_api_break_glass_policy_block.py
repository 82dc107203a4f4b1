"""Break-glass "beyond what the policy allows" (issue 13): a subject the
policy itself blocks (a block tier by group, no hold) is recovered only under
a break-glass exception that names, in its value, the tier to recover under;
two people approved that exception, and the case then needs that tier's
approvers plus a security approver. Without a named tier the use is refused
``policy_blocks``; a block tier or an unknown tier is refused at request. On
SQLite and PostgreSQL, through the HTTP API, with the real SMTP server and
webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from break_glass_world import alerts, blocked_case, glass_exception, glass_world, staff
from fastapi.testclient import TestClient
from servers.smtp import SmtpServer
from webhook_receiver import Received, webhook_receiver  # noqa: F401 (``receiver``)

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.errors import InvalidInput
from custos.domain.model import Employment
from custos.policy.loader import DEFAULT_POLICY_PATH

OFFBOARDED = {
    "name": "offboarded",
    "description": "Leavers' accounts: never recovered through the ordinary path",
    "match": {"groups": ["offboarded"]},
    "action": "block",
}


def _policy(folder: Path) -> Path:
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    policy["tiers"].insert(0, OFFBOARDED)
    path = folder / "offboarded-policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    smtp: SmtpServer,
    receiver: tuple[str, Received],
) -> Iterator[World]:
    url, received = receiver
    yield from glass_world(
        request.param, tmp_path, smtp, (url, received), policy_file=_policy(tmp_path)
    )


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    staff(world)
    with TestClient(create_app(world.svc)) as client:
        yield client


def _glass(api: TestClient, world: World, case_id: str, exception_id: str) -> Any:
    return api.post(
        f"/api/v1/cases/{case_id}/break-glass",
        headers={"Authorization": f"Bearer {world.tokens['hana']}"},
        json={"exception": exception_id, "reason": "leaver's mailbox needed by legal"},
    )


def test_a_policy_blocked_subject_recovers_only_under_a_named_tier(
    world: World, api: TestClient, receiver: tuple[str, Received]
) -> None:
    """R-32, R-36: the offboarded tier blocks olga (no hold). A break-glass
    exception naming no tier is refused ``policy_blocks`` and changes nothing;
    one naming ``contractor`` sends the case to proofing under the contractor
    tier with its approvers plus a security approver, and alerts security."""
    world.subject("olga", employment=Employment.CONTRACTOR, with_totp=True, groups=("offboarded",))
    case_id = blocked_case(world, "olga")

    bare = glass_exception(world, "olga")
    refused = _glass(api, world, case_id, bare)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["id"] == "break_glass_refused"
    assert refused.json()["error"]["details"]["rule"] == "policy_blocks"
    assert "name, in its value, the tier" in refused.json()["error"]["message"]

    named = glass_exception(world, "olga", value="contractor")
    used = _glass(api, world, case_id, named)
    assert used.status_code == 200, used.text
    assert used.json()["state"] == "proofing"
    shown = api.get(
        f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {world.tokens['barbara']}"}
    ).json()
    assert shown["tier"] == "contractor"
    assert shown["break_glass"]["exception"] == named
    # The contractor tier's approvers plus one security approver.
    assert shown["requirements"]["approvals"] == 2
    world.drain()
    (payload,) = alerts(receiver[1])
    assert payload["case"] == case_id and payload["exception"] == named


@pytest.mark.parametrize(
    ("value", "message"),
    [("frozen", "refuses recovery"), ("offboarded", "refuses recovery"), ("nosuch", "no tier")],
)
def test_a_break_glass_exception_names_only_a_tier_that_recovers(
    world: World, api: TestClient, value: str, message: str
) -> None:
    """A break-glass exception naming a block tier or a tier the policy does
    not have is refused when it is requested; nothing is stored."""
    world.subject("olga", employment=Employment.CONTRACTOR, with_totp=True, groups=("offboarded",))
    with pytest.raises(InvalidInput) as refused:
        glass_exception(world, "olga", value=value)
    assert message in refused.value.message
    listed = api.get(
        "/api/v1/exceptions", headers={"Authorization": f"Bearer {world.tokens['barbara']}"}
    )
    assert listed.status_code == 200 and listed.json()["exceptions"] == [], listed.text
