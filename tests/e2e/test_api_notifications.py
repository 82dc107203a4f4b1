"""Recovery notices, repudiation and the operator's fraud flag through the HTTP
API, with mail delivered to a real SMTP server on loopback (STARTTLS + AUTH),
on SQLite and PostgreSQL (R-22, R-23, R-43)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mail_world import SECURITY_ADDRESS, add_contact, mail_world
from servers.smtp import SmtpServer

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.model import Hold, Role
from custos.store.tables import ledger

NEW_PASSWORD = "quartz-lantern-meadow-7-orbit"
REPUDIATE = "/api/v1/self-service/repudiate"
CONFIRMED = ("bob@example.org", "bob@home.example.net")
UNCONFIRMED = "bob@old.example.org"


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, smtp: SmtpServer) -> Iterator[World]:
    yield from mail_world(request.param, tmp_path, smtp.settings(), server=smtp)


@pytest.fixture
def sqlite_world(tmp_path: Path, smtp: SmtpServer) -> Iterator[World]:
    yield from mail_world("sqlite", tmp_path, smtp.settings(), server=smtp)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


@pytest.fixture
def sqlite_api(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_world.svc)) as client:
        yield client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def fragment_token(text: str, path: str) -> str:
    match = re.search(rf"https://recovery\.example\.org{path}#token=(\S+)", text)
    assert match, text
    return match.group(1)


def bob_with_two_contacts(world: World) -> None:
    world.subject("bob", codes=3)  # bob@example.org confirmed, bob@old.example.org not
    add_contact(world, "bob", CONFIRMED[1])


def self_service_until_link(api: TestClient, smtp: SmtpServer, subject: str = "bob") -> str:
    """Recover by email code up to the one-time link; returns the flow handle."""
    flow = api.post("/api/v1/self-service/recoveries", json={"identifier": subject}).json()["flow"]
    assert api.post(f"/api/v1/self-service/recoveries/{flow}/email-code").status_code == 202
    body = smtp.to(f"{subject}@example.org", "email_code")[-1].text
    code = re.search(r"is (\d{8})\.", body)
    assert code, body
    proof = api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": code.group(1)},
    )
    assert proof.json()["status"] == "link_sent", proof.text
    return str(flow)


def case_detail(world: World, api: TestClient, case_id: str | None = None) -> dict[str, Any]:
    if "auditor" not in world.tokens:
        world.operator("auditor", Role.AUDITOR)
    if case_id is None:
        listing = api.get("/api/v1/cases?subject=bob", headers=auth(world, "auditor")).json()
        case_id = listing["cases"][0]["id"]
    response = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "auditor"))
    case: dict[str, Any] = response.json()
    return case


def ledger_types(world: World) -> list[str]:
    with world.svc.engine.connect() as conn:
        return [row.type for row in conn.execute(ledger.select().order_by(ledger.c.seq))]


def holds_of(world: World, subject_id: str) -> frozenset[str]:
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
    assert subject is not None
    return subject.holds


def test_every_confirmed_contact_gets_the_recovery_notice_with_a_working_link(
    world: World, api: TestClient, smtp: SmtpServer
) -> None:
    """On issue and on completion, every confirmed contact (and no unconfirmed one)
    is told what happened, when and how, with a repudiation link built from the
    configured origin whose page loads (R-22)."""
    bob_with_two_contacts(world)
    self_service_until_link(api, smtp)
    for address in CONFIRMED:
        [notice] = smtp.to(address, "recovery_notice")
        assert "was approved for your account" in notice.text
        assert "self-service portal" in notice.text and "2026-11-25 09:00 UTC" in notice.text
        assert fragment_token(notice.text, "/repudiate").startswith("crp_")
    assert smtp.to(UNCONFIRMED) == []
    page = api.get("/repudiate")
    assert page.status_code == 200 and "/static/portal-repudiate.js" in page.text

    token = fragment_token(smtp.to(CONFIRMED[0], "reset_link")[-1].text, "/reset")
    redeemed = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert redeemed.status_code == 200, redeemed.text
    world.drain()
    assert case_detail(world, api)["state"] == "completed"
    for address in CONFIRMED:
        done = smtp.to(address, "recovery_notice")[-1]
        assert "password of your account was changed" in done.text
    assert smtp.to(UNCONFIRMED) == []
    assert "notify:subject:sent" in ledger_types(world)


def test_repudiation_blocks_the_case_voids_the_link_and_alerts_security(
    world: World, api: TestClient, smtp: SmtpServer
) -> None:
    """ "This wasn't me": the case is blocked, the reset link stops working, the
    subject is frozen, security is alerted; the same token again gets the same
    generic answer and changes nothing more (R-43, R-22, R-19)."""
    bob_with_two_contacts(world)
    self_service_until_link(api, smtp)
    reset_token = fragment_token(smtp.to(CONFIRMED[0], "reset_link")[-1].text, "/reset")
    repudiation = fragment_token(smtp.to(CONFIRMED[1], "recovery_notice")[-1].text, "/repudiate")

    first = api.post(REPUDIATE, json={"token": repudiation})
    assert first.status_code == 202
    story = case_detail(world, api)
    assert story["state"] == "blocked"
    assert Hold.FRAUD in holds_of(world, "bob")
    [flag] = [e for e in story["timeline"] if e["type"] == "case:fraud:flagged"]
    assert flag["actor"] == "subject:bob" and flag["data"]["blocked"] is True
    assert flag["data"]["tokens_voided"] == 1

    refused = api.post(
        "/api/v1/self-service/reset", json={"token": reset_token, "new_password": NEW_PASSWORD}
    )
    assert refused.status_code == 400 and refused.json()["error"]["id"] == "token_invalid"
    assert not world.directory.verify_password("bob", NEW_PASSWORD)

    [alert] = smtp.to(SECURITY_ADDRESS, "repudiated")
    assert story["id"] in alert.text and "Subject:    bob" in alert.text
    assert "credential_issued -> blocked" in alert.text

    again = api.post(REPUDIATE, json={"token": repudiation})
    assert again.status_code == first.status_code and again.json() == first.json()
    assert ledger_types(world).count("case:fraud:flagged") == 1
    assert len(smtp.to(SECURITY_ADDRESS)) == 1

    # The freeze refuses the next recovery of the subject, whoever opens it.
    world.operator("hana", Role.REQUESTER)
    reopened = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": "bob", "reason": "call"}
    )
    assert reopened.status_code == 409 and reopened.json()["error"]["id"] == "recovery_blocked"


def test_repudiation_answers_the_same_for_unknown_and_malformed_tokens(
    sqlite_world: World, sqlite_api: TestClient, smtp: SmtpServer
) -> None:
    """Nothing about a case leaks through the repudiation endpoint (R-19)."""
    bob_with_two_contacts(sqlite_world)
    self_service_until_link(sqlite_api, smtp)
    real = fragment_token(smtp.to(CONFIRMED[0], "recovery_notice")[-1].text, "/repudiate")
    unknown = "crp_" + "A" * 43
    answers = [
        sqlite_api.post(REPUDIATE, json={"token": token})
        for token in (unknown, "not-a-token", "crt_" + "B" * 43, real)
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    assert "bob" not in answers[0].text and "case" not in answers[0].text.lower()
    assert ledger_types(sqlite_world).count("case:fraud:flagged") == 1


def test_repudiation_after_completion_freezes_the_subject_without_blocking(
    sqlite_world: World, sqlite_api: TestClient, smtp: SmtpServer
) -> None:
    """A completed case has no move to blocked: it stays completed, the flag is
    recorded, the subject is frozen and security is told (R-43)."""
    world, api = sqlite_world, sqlite_api
    bob_with_two_contacts(world)
    self_service_until_link(api, smtp)
    token = fragment_token(smtp.to(CONFIRMED[0], "reset_link")[-1].text, "/reset")
    api.post("/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD})
    world.drain()
    completion = smtp.to(CONFIRMED[0], "recovery_notice")[-1]
    assert (
        api.post(
            REPUDIATE, json={"token": fragment_token(completion.text, "/repudiate")}
        ).status_code
        == 202
    )
    story = case_detail(world, api)
    assert story["state"] == "completed"
    [flag] = [e for e in story["timeline"] if e["type"] == "case:fraud:flagged"]
    assert flag["data"]["blocked"] is False and flag["data"]["state_before"] == "completed"
    assert Hold.FRAUD in holds_of(world, "bob")
    [alert] = smtp.to(SECURITY_ADDRESS, "repudiated")
    assert "case left in 'completed'" in alert.text


def test_flag_during_propagation_wipes_the_secret_and_stops_it(
    sqlite_world: World, sqlite_api: TestClient, smtp: SmtpServer
) -> None:
    """Flagged while executing: the state cannot move to blocked, but the sealed
    password is wiped, so no target receives it and the case needs attention."""
    world, api = sqlite_world, sqlite_api
    bob_with_two_contacts(world)
    world.operator("hana", Role.REQUESTER)
    self_service_until_link(api, smtp)
    token = fragment_token(smtp.to(CONFIRMED[0], "reset_link")[-1].text, "/reset")
    case_id = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    ).json()["case"]
    flagged = api.post(
        f"/api/v1/cases/{case_id}/flag-fraud",
        headers=auth(world, "hana"),
        json={"reason": "the real bob called: he is on holiday"},
    )
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["state"] == "executing"
    world.drain()
    story = case_detail(world, api, case_id)
    assert story["state"] == "needs_attention"
    assert "credential:secret:wiped" in [e["type"] for e in story["timeline"]]
    assert not world.directory.verify_password("bob", NEW_PASSWORD)


def test_operator_flag_fraud_blocks_the_case_and_alerts_security(
    world: World, api: TestClient, smtp: SmtpServer
) -> None:
    """An agent suspecting a social-engineering call flags the case: it is blocked,
    the subject frozen, security alerted with who flagged and why (R-43)."""
    world.subject("kim", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    world.operator("linus", Role.APPROVER)
    opened = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": "kim", "reason": "call"}
    ).json()
    flagged = api.post(
        f"/api/v1/cases/{opened['id']}/flag-fraud",
        headers=auth(world, "linus"),
        json={"reason": "caller pressed hard and could not answer basics"},
    )
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["state"] == "blocked"
    assert Hold.FRAUD in holds_of(world, "kim")
    [alert] = smtp.to(SECURITY_ADDRESS, "repudiated")
    assert f"operator linus ({world.operators['linus'].id})" in alert.text
    assert "could not answer basics" in alert.text
    assert "proofing -> blocked" in alert.text


def test_operator_flag_fraud_is_refused_outside_scope_or_role(
    sqlite_world: World, sqlite_api: TestClient, smtp: SmtpServer
) -> None:
    """Scope and role are checked: an approver for other groups and an executor
    cannot flag; the case and subject are untouched and nobody is alerted. Out
    of scope the case answers 404 as an unknown case would (R-36: scope reveals
    nothing, docs/oversight.md)."""
    world, api = sqlite_world, sqlite_api
    world.subject("kim", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    world.operator("remote", Role.APPROVER, scope=("finance",))
    world.operator("edsger", Role.EXECUTOR)
    case_id = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": "kim", "reason": "call"}
    ).json()["id"]
    body = {"reason": "suspicious"}
    out_of_scope = api.post(
        f"/api/v1/cases/{case_id}/flag-fraud", headers=auth(world, "remote"), json=body
    )
    assert out_of_scope.status_code == 404
    assert out_of_scope.json()["error"]["id"] == "not_found"
    assert "kim" not in out_of_scope.text
    wrong_role = api.post(
        f"/api/v1/cases/{case_id}/flag-fraud", headers=auth(world, "edsger"), json=body
    )
    assert wrong_role.status_code == 403
    assert wrong_role.json()["error"]["id"] == "not_authorized"
    assert case_detail(world, api, case_id)["state"] == "proofing"
    assert holds_of(world, "kim") == frozenset()
    assert smtp.to(SECURITY_ADDRESS) == []


def test_no_message_carries_the_password_or_factor_secrets(
    sqlite_world: World, sqlite_api: TestClient, smtp: SmtpServer
) -> None:
    """A recovery with a saved recovery code, then a repudiation: of everything
    that reached the SMTP server, nothing holds the new password, the TOTP secret
    or any recovery code, used or replacement (R-12, R-23)."""
    world, api = sqlite_world, sqlite_api
    world.subject("bob", codes=2, with_totp=True)
    flow = api.post("/api/v1/self-service/recoveries", json={"identifier": "bob"}).json()["flow"]
    proof = api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "recovery_code", "code": world.recovery_codes["bob"][0]},
    )
    assert proof.status_code == 200, proof.text
    replacement = proof.json()["replacement_recovery_code"]
    assert replacement
    [used] = smtp.to("bob@example.org", "recovery_code_used")
    assert "unused code(s) remain" in used.text
    token = fragment_token(smtp.to("bob@example.org", "reset_link")[-1].text, "/reset")
    api.post("/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD})
    world.drain()
    api.post(REPUDIATE, json={"token": fragment_token(used.text, "/repudiate")})
    world.send_notices()
    kinds = {r.kind for r in smtp.received}
    assert kinds == {"recovery_code_used", "reset_link", "recovery_notice", "repudiated"}
    # Decoded parts and headers: a quoted-printable body would hide a literal match.
    everything = "\n".join(f"{r.message.as_string()}\n{r.text}\n{r.html}" for r in smtp.received)
    assert token in everything  # the check sees what the subject sees
    forbidden = [NEW_PASSWORD, world.totp_secrets["bob"], replacement, *world.recovery_codes["bob"]]
    for secret in forbidden:
        assert secret not in everything
