"""Every owner of a shared account is told through a real SMTP server on
loopback (STARTTLS + AUTH): each owner's own link, the other owners' notice
when one is opened, the account's own recovery notice; no mail carries the
password (R-22, R-23; docs/shared-accounts.md). SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mail_world import mail_world
from servers.smtp import SmtpServer

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.model import Role, SubjectKind

OWNERS = ("ana", "ben", "cleo")


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, smtp: SmtpServer) -> Iterator[World]:
    yield from mail_world(request.param, tmp_path, smtp.settings(), server=smtp)


def _auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def _link(smtp: SmtpServer, owner: str) -> str:
    (mail,) = smtp.to(f"{owner}@example.org", "owner_link")
    assert mail.tls and mail.authenticated
    match = re.search(r"https://recovery\.example\.org/shared#token=(\S+)", mail.text)
    assert match, mail.text
    return match.group(1)


def test_every_owner_gets_their_own_link_and_the_others_are_told_by_mail(
    world: World, smtp: SmtpServer
) -> None:
    for owner in OWNERS:
        world.subject(owner)
    world.subject("frontdesk", kind=SubjectKind.SHARED, with_totp=True)
    with world.svc.uow() as uow:
        desk = uow.subjects.get("frontdesk")
        assert desk is not None
        uow.subjects.update(dataclasses.replace(desk, owner="ana", owners=OWNERS))
        uow.commit()
    world.operator("hana", Role.REQUESTER, person="hana")
    world.operator("linus", Role.APPROVER, person="linus")
    world.operator("edsger", Role.EXECUTOR, person="edsger")
    with TestClient(create_app(world.svc)) as api:
        opened = api.post(
            "/api/v1/cases",
            headers=_auth(world, "hana"),
            json={"subject": "frontdesk", "reason": "lost", "on_behalf_of": "cleo"},
        )
        case_id = opened.json()["id"]
        api.post(
            f"/api/v1/cases/{case_id}/proofs",
            headers=_auth(world, "hana"),
            json={"method": "totp", "code": world.totp_now("frontdesk")},
        )
        api.post(
            f"/api/v1/cases/{case_id}/approve", headers=_auth(world, "linus"), json={"reason": "ok"}
        )
        executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=_auth(world, "edsger"))
        assert executed.status_code == 200, executed.text
        world.send_notices()
        links = {owner: _link(smtp, owner) for owner in OWNERS}
        assert len(set(links.values())) == len(OWNERS)
        first = " ".join(smtp.to("ana@example.org", "owner_link")[0].text.split())
        assert "asked for by cleo" in first
        assert smtp.to("frontdesk@example.org", "recovery_notice")
        shown = api.post("/api/v1/self-service/shared-credential", json={"token": links["cleo"]})
        assert shown.status_code == 200, shown.text
        password = shown.json()["password"]
        world.send_notices()
    for owner in ("ana", "ben"):
        (told,) = smtp.to(f"{owner}@example.org", "owner_link_used")
        assert "cleo opened their link" in told.text
    assert smtp.to("cleo@example.org", "owner_link_used") == []
    assert all(password not in m.raw.decode("utf-8", "replace") for m in smtp.received)
