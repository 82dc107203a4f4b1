"""Shared steps of the attestation and agent-challenge tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi.testclient import TestClient

from conftest import World
from custos.domain.model import Employment, Role
from custos.store.tables import ledger


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def with_manager(
    world: World,
    subject_id: str,
    manager: str = "mia",
    *,
    contractor: bool = False,
    with_totp: bool = False,
) -> None:
    """``subject_id`` whose manager (or, for a contractor, sponsor) is ``manager``."""
    if manager not in world.totp_secrets and not _exists(world, manager):
        world.subject(manager)
    world.subject(
        subject_id,
        employment=Employment.CONTRACTOR if contractor else Employment.EMPLOYEE,
        with_totp=with_totp,
    )
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        assert subject is not None
        if contractor:
            linked = dataclasses.replace(subject, sponsor=manager)
        else:
            linked = dataclasses.replace(subject, manager=manager)
        uow.subjects.update(linked)
        uow.commit()


def _exists(world: World, subject_id: str) -> bool:
    with world.svc.uow() as uow:
        return uow.subjects.get(subject_id) is not None


def open_case(world: World, api: TestClient, subject_id: str, agent: str = "hana") -> str:
    if agent not in world.tokens:
        world.operator(agent, Role.REQUESTER)
    response = api.post(
        "/api/v1/cases",
        headers=auth(world, agent),
        json={"subject": subject_id, "reason": "caller lost phone and password"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def link_token(world: World, to: str, kind: str) -> str:
    body = world.mail(to, kind)[-1]["body"]
    return str(body.split("#token=")[1].split()[0])


def ledger_text(world: World) -> str:
    with world.svc.engine.connect() as conn:
        return "\n".join(row.canonical for row in conn.execute(ledger.select()))


def event_types(world: World, case_id: str) -> list[str]:
    with world.svc.uow() as uow:
        return [str(e["type"]) for e in uow.ledger.for_case(case_id)]


def detail(world: World, api: TestClient, case_id: str) -> dict[str, Any]:
    if "auditor" not in world.tokens:
        world.operator("auditor", Role.AUDITOR)
    response = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "auditor"))
    assert response.status_code == 200, response.text
    return dict(response.json())
