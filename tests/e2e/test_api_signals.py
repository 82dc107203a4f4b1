"""The signed SIM-swap webhook, the SMS routes and the device cookie through the
HTTP API, on SQLite and PostgreSQL (R-19, R-44)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from risk_world import WEBHOOK_SECRET, add_phone, risk_world, signed_sim_swap, texts
from sqlalchemy import select

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.api.device_cookie import COOKIE
from custos.domain.model import ContactKind, Role
from custos.service.recovery import cases
from custos.service.signals import risk_signals
from custos.store.tables import ledger, sim_swap_signals

HOOK = "/api/v1/signals/sim-swap"


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    yield from risk_world(request.param, tmp_path)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc), base_url="https://testserver") as client:
        yield client


def stored_signals(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return len(list(conn.execute(sim_swap_signals.select())))


def test_signed_sim_swap_is_accepted_and_blocks_sms(world: World, api: TestClient) -> None:
    """R-44: a valid signal is stored; the agent then gets sms_blocked."""
    world.subject("ola")
    add_phone(world, "ola")
    token = world.operator("hana", Role.REQUESTER)
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="ola", reason="caller"
    )
    body, headers = signed_sim_swap(world, "ola")
    answer = api.post(HOOK, content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert stored_signals(world) == 1
    refused = api.post(
        f"/api/v1/cases/{case.id}/sms-code", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["id"] == "sms_blocked"
    assert texts(world) == []


def test_bad_signature_is_refused_with_401(world: World, api: TestClient) -> None:
    world.subject("pia")
    body, headers = signed_sim_swap(world, "pia")
    tampered = body.replace(b"sim_swap", b"port_out")
    answer = api.post(HOOK, content=tampered, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["id"] == "signature_invalid"
    assert stored_signals(world) == 0


def test_replayed_request_and_stale_timestamp_are_refused(world: World, api: TestClient) -> None:
    """A captured request cannot be sent again, neither at once nor later."""
    world.subject("quin")
    body, headers = signed_sim_swap(world, "quin")
    assert api.post(HOOK, content=body, headers=headers).status_code == 202
    replay = api.post(HOOK, content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]["message"]
    old = world.clock.now() - timedelta(minutes=10)
    body, headers = signed_sim_swap(world, "quin", at=old.timestamp())
    stale = api.post(HOOK, content=body, headers=headers)
    assert stale.status_code == 401 and "window" in stale.json()["error"]["message"]
    assert stored_signals(world) == 1


def test_webhook_without_a_configured_secret_refuses_everything(
    world: World, api: TestClient
) -> None:
    world.subject("rae")
    world.svc.settings.sim_swap_webhook_secret = None
    body, headers = signed_sim_swap(world, "rae")
    assert api.post(HOOK, content=body, headers=headers).status_code == 401


def test_sms_code_route_answers_alike_for_unknown_accounts(world: World, api: TestClient) -> None:
    """R-19: the self-service SMS route says the same whoever asks."""
    world.subject("ron")
    add_phone(world, "ron")
    answers = []
    for who in ("ron", "nobody-here"):
        flow = api.post("/api/v1/self-service/recoveries", json={"identifier": who}).json()["flow"]
        answer = api.post(f"/api/v1/self-service/recoveries/{flow}/sms-code")
        answers.append((answer.status_code, answer.json()))
    assert answers[0] == answers[1]
    assert len(texts(world)) == 1


def test_device_cookie_is_set_once_and_forgeries_are_replaced(
    world: World, api: TestClient
) -> None:
    """The signed device cookie: issued on the first start, kept when valid,
    replaced when forged."""
    first = api.post("/api/v1/self-service/recoveries", json={"identifier": "a"})
    cookie = first.cookies.get(COOKIE)
    assert cookie is not None and "." in cookie
    assert "httponly" in first.headers["set-cookie"].lower()
    again = api.post("/api/v1/self-service/recoveries", json={"identifier": "a"})
    assert COOKIE not in again.cookies  # the valid cookie is kept
    device_id = cookie.split(".")[0]
    with TestClient(create_app(world.svc), base_url="https://testserver") as fresh:
        fresh.cookies.set(COOKIE, f"{device_id}.{'0' * 64}")
        forged = fresh.post("/api/v1/self-service/recoveries", json={"identifier": "a"})
    replaced = forged.cookies.get(COOKIE)
    assert replaced is not None and replaced != cookie


def add_unconfirmed_phone(world: World, subject_id: str, number: str) -> None:
    with world.svc.uow() as uow:
        uow.contacts.add(subject_id, ContactKind.SMS, number, now=world.clock.now())
        uow.commit()


def signal_rows(world: World) -> list[tuple[str, str]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(sim_swap_signals.c.subject_id, sim_swap_signals.c.kind).order_by(
                sim_swap_signals.c.subject_id
            )
        )
        return [(r.subject_id, r.kind) for r in rows]


def test_sim_swap_by_phone_blocks_every_subject_keeping_the_number(
    world: World, api: TestClient
) -> None:
    """R-44: a carrier names the swapped number, not a Custos id. Every subject
    that keeps it (confirmed or not, however it is spelt) is blocked; others
    are not; the ledger says how the subject was matched without the number."""
    for name in ("ola", "pia", "quin"):
        world.subject(name)
    add_phone(world, "ola", "+491701234567")
    add_unconfirmed_phone(world, "pia", "0049 (170) 123-4567")
    add_phone(world, "quin", "+491709999999")
    body, headers = signed_sim_swap(world, None, phone="+49 170 1234567", kind="port_out")
    answer = api.post(HOOK, content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert "recorded for 2 subjects" in answer.json()["message"]
    assert signal_rows(world) == [("ola", "port_out"), ("pia", "port_out")]
    with world.svc.uow(read_only=True) as uow:
        assert uow.risk.last_sim_swap("ola") is not None
        assert uow.risk.last_sim_swap("quin") is None
        reported = [
            json.loads(r.canonical)
            for r in uow.conn.execute(
                select(ledger.c.canonical).where(ledger.c.type == "risk:subject:sim_swap_reported")
            )
        ]
    assert sorted(e["subject"] for e in reported) == ["ola", "pia"]
    assert all(e["data"]["matched_by"] == "phone" for e in reported)
    assert all("1234567" not in json.dumps(e) for e in reported)
    # The same signed request again is a replay, refused as a whole.
    again = api.post(HOOK, content=body, headers=headers)
    assert again.status_code == 401
    assert again.json()["error"]["id"] == "signature_invalid"
    assert len(signal_rows(world)) == 2


def test_sim_swap_for_a_number_nobody_keeps_changes_nothing(world: World, api: TestClient) -> None:
    """R-44: a carrier's feed covers all its customers; a number no subject keeps
    is accepted and neither stored nor written to the ledger."""
    world.subject("ola")
    add_phone(world, "ola", "+491701234567")
    with world.svc.uow(read_only=True) as uow:
        before = uow.ledger.count()
    body, headers = signed_sim_swap(world, None, phone="+14155550100")
    answer = api.post(HOOK, content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert "nothing was recorded" in answer.json()["message"]
    assert signal_rows(world) == []
    with world.svc.uow(read_only=True) as uow:
        assert uow.ledger.count() == before


@pytest.mark.parametrize(
    ("named", "problem"),
    [
        ({"subject": "ola", "phone": "+491701234567"}, "exactly one"),
        ({}, "exactly one"),
        ({"phone": "0170 1234567"}, "international number"),
        ({"phone": "+12"}, "international number"),
        ({"phone": 491701234567}, "international number"),
        # PostgreSQL cannot compare or store text with NUL: it used to be a 500.
        ({"subject": "ola\x00"}, "subject id"),
        ({"subject": "ola", "provider": "carrier\x00"}, "short name"),
    ],
)
def test_sim_swap_body_must_name_one_valid_subject_or_number(
    world: World, api: TestClient, named: dict[str, object], problem: str
) -> None:
    """A malformed signal answers 422 invalid_input saying what is wrong, and
    stores nothing."""
    world.subject("ola")
    body = json.dumps({**named, "kind": "sim_swap"}).encode()
    stamp = str(int(world.clock.now().timestamp()))
    headers = {
        risk_signals.TIMESTAMP_HEADER: stamp,
        risk_signals.SIGNATURE_HEADER: risk_signals.sign(WEBHOOK_SECRET.encode(), stamp, body),
        "Content-Type": "application/json",
    }
    answer = api.post(HOOK, content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["id"] == "invalid_input"
    assert problem in answer.json()["error"]["message"]
    assert signal_rows(world) == []
