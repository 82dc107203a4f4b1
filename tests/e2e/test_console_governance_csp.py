"""The exceptions, campaigns and service-accounts pages keep the console's
rules (docs/console.md#security-of-the-pages), on SQLite and PostgreSQL:
served with the strict CSP and no-store, holding nothing the CSP would block
(no inline script or style, no event handler attributes), every form with
the session's CSRF token, and the navigation marking the page current."""

from __future__ import annotations

import re
from datetime import timedelta

from console_helpers import console_client, sign_in
from service_world import owner, service_account

from conftest import World
from custos.domain.exceptions import Relaxation
from custos.domain.model import Role
from custos.service.campaigns import commands as campaigns
from custos.service.exceptions import commands as exceptions


def _clean(html: str, path: str) -> None:
    assert "<style" not in html, path
    assert re.search(r"\sstyle=", html) is None, path
    assert re.search(r"\son[a-z]+=", html) is None, path
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in s for s in scripts), path
    forms = re.findall(r'<form method="post".*?</form>', html, re.S)
    assert forms and all('name="csrf" value="' in f for f in forms), path


def test_the_governance_pages_are_clean_under_the_csp(world: World) -> None:
    world.subject("sam", groups=("incident-3",))
    owner(world, "ana")
    service_account(world, "svc-backup", ("ana",), age=timedelta(days=10))
    world.operator("root", Role.ADMIN)
    world.operator("rita", Role.REQUESTER)
    rita = world.operators["rita"]
    record = exceptions.request_exception(
        world.svc,
        rita,
        reason="manager on leave",
        ticket="CHG-7",
        relaxation=Relaxation.APPROVALS,
        value="1",
        ends_at=world.clock.now() + timedelta(hours=5),
        subject_ids=("sam",),
    )
    campaign, _ = campaigns.start(
        world.svc, rita, group="incident-3", action="reissue", reason="phished", ticket="INC-9"
    )
    pages = {
        "/console/exceptions": "Exceptions",
        f"/console/exceptions/{record.id}": "Exceptions",
        "/console/campaigns": "Campaigns",
        f"/console/campaigns/{campaign.id}": "Campaigns",
        "/console/service-accounts": "Service accounts",
    }
    with console_client(world) as client:
        sign_in(client, world, "root")
        for path, current in pages.items():
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert "script-src 'self'" in answer.headers["content-security-policy"], path
            assert answer.headers["cache-control"] == "no-store", path
            _clean(answer.text, path)
            assert re.findall(r'aria-current="page">([^<]+)<', answer.text) == [current], path
        live = client.get(f"/console/campaigns/{campaign.id}/live")
        assert live.status_code == 200 and "<html" not in live.text
