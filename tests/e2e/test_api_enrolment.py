"""Subject self-management and WebAuthn recoveries through the HTTP API, on
SQLite and PostgreSQL (R-14, R-22, R-27, R-28, R-45, R-46)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient
from risk_world import texts
from sqlalchemy import select
from subject_helpers import PASSWORD, totp_code, with_password
from webauthn_authenticator import ORIGIN, enrol_webauthn

from conftest import BACKENDS, World, make_world, pg_database
from custos.api.app import create_app
from custos.domain.model import Role
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.store.tables import ledger

NEW_PASSWORD = "quartz-lantern-meadow-7-orbit"


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start(api: TestClient, identifier: str) -> str:
    response = api.post("/api/v1/self-service/recoveries", json={"identifier": identifier})
    assert response.status_code == 202
    return str(response.json()["flow"])


def finish_recovery(world: World, api: TestClient, subject_id: str) -> str:
    token = world.last_link_token(subject_id)
    redeemed = api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert redeemed.status_code == 200, redeemed.text
    world.drain()
    with world.svc.uow() as uow:
        return str(uow.cases.get(redeemed.json()["case"]).state)


def test_self_service_recovery_with_webauthn_completes(world: World, api: TestClient) -> None:
    """The subject's browser answers the flow's challenge with their security key:
    a phishing-resistant proof, recorded as such."""
    world.subject("bob")
    key = enrol_webauthn(world, "bob")
    flow = start(api, "bob")
    options = api.post(f"/api/v1/self-service/recoveries/{flow}/webauthn/options")
    assert options.status_code == 200, options.text
    assertion = key.assert_(options.json(), origin=ORIGIN)
    proof = api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "webauthn", "code": json.dumps(assertion)},
    )
    assert proof.status_code == 200, proof.text
    assert proof.json()["status"] == "link_sent"
    assert finish_recovery(world, api, "bob") == "completed"
    # A replayed assertion does not prove anything on a new flow.
    again = start(api, "bob")
    replay = api.post(
        f"/api/v1/self-service/recoveries/{again}/proofs",
        json={"method": "webauthn", "code": json.dumps(assertion)},
    )
    assert replay.status_code == 400


def test_webauthn_options_look_alike_for_unknown_accounts(world: World, api: TestClient) -> None:
    """R-19: a flow with no subject behind it gets options of the same shape."""
    world.subject("bob")
    enrol_webauthn(world, "bob")
    known = api.post(f"/api/v1/self-service/recoveries/{start(api, 'bob')}/webauthn/options")
    unknown = api.post(f"/api/v1/self-service/recoveries/{start(api, 'nobody')}/webauthn/options")
    assert known.status_code == unknown.status_code == 200
    assert sorted(known.json()) == sorted(unknown.json())
    assert len(known.json()["allowCredentials"]) == len(unknown.json()["allowCredentials"]) == 1


def test_operator_token_cannot_use_subject_enrolment(world: World, api: TestClient) -> None:
    """R-45: agents cannot bind a phone or OTP device for a subject: the only
    enrolment endpoints take a subject session, and no operator route binds one."""
    world.operator("hana", Role.REQUESTER, Role.ADMIN)
    operator = bearer(world.tokens["hana"])
    for method, path in (
        ("POST", "/api/v1/me/methods/totp"),
        ("POST", "/api/v1/me/methods/webauthn/options"),
        ("POST", "/api/v1/me/methods/recovery-codes"),
        ("GET", "/api/v1/me/methods"),
        ("POST", "/api/v1/me/contacts"),
    ):
        response = api.request(method, path, headers=operator, json={"address": "x@example.net"})
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["id"] == "unauthenticated"
    app_paths = list(api.get("/api/v1/openapi.json").json()["paths"])
    binding = [p for p in app_paths if "totp" in p or "/methods" in p or "recovery-codes" in p]
    assert binding and all(p.startswith("/api/v1/me/") for p in binding)


def test_subject_signs_in_enrols_totp_and_manages_contacts_over_http(
    world: World, api: TestClient
) -> None:
    """R-26, R-27, R-22, R-14 through the API."""
    world.subject("carol", with_totp=True)
    with_password(world, "carol")
    wrong = api.post("/api/v1/me/sign-in", json={"identifier": "carol", "password": "nope"})
    assert wrong.status_code == 401
    first = api.post("/api/v1/me/sign-in", json={"identifier": "carol", "password": PASSWORD})
    assert first.status_code == 200 and first.json()["second_factor_due"]
    partial = first.json()["session"]
    assert api.get("/api/v1/me/methods", headers=bearer(partial)).status_code == 403
    done = api.post(
        "/api/v1/me/sign-in/second-factor",
        headers=bearer(partial),
        json={"method": "totp", "code": totp_code(world, "carol")},
    )
    assert done.status_code == 200, done.text
    session = done.json()["session"]
    assert session != partial and done.json()["aal"] == 2
    enrol = api.post("/api/v1/me/methods/totp", headers=bearer(session))
    assert enrol.status_code == 201 and enrol.headers["cache-control"] == "no-store"
    secret = parse_qs(urlparse(enrol.json()["otpauth_uri"]).query)["secret"][0]
    confirm = api.post(
        f"/api/v1/me/methods/totp/{enrol.json()['pending_id']}/confirm",
        headers=bearer(session),
        json={"code": pyotp.TOTP(secret).at(world.clock.now())},
    )
    assert confirm.status_code == 200, confirm.text
    assert world.mail("carol@example.org", "authenticator_bound")
    added = api.post(
        "/api/v1/me/contacts", headers=bearer(session), json={"address": "carol@home.example.net"}
    )
    assert added.status_code == 201
    listed = api.get("/api/v1/me/contacts", headers=bearer(session)).json()
    assert {c["address"]: c["confirmed_at"] is None for c in listed} == {
        "carol@example.org": False,
        "carol@old.example.org": True,  # the fixture's unconfirmed address
        "carol@home.example.net": True,
    }
    assert api.post("/api/v1/me/sign-out", headers=bearer(session)).status_code == 204
    assert api.get("/api/v1/me/methods", headers=bearer(session)).status_code == 401


# -- two authenticators, one lost: the other plus a code, no help desk ----------


@pytest.fixture(params=BACKENDS)
def two_factor_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Employees recover with two factors (R-2: a code plus a still-bound authenticator)."""
    text = DEFAULT_POLICY_PATH.read_text()
    standard = "proofing: {factors: 1, methods: [webauthn, totp, recovery_code, email_code]}"
    assert standard in text
    policy = tmp_path / "policy.yaml"
    policy.write_text(text.replace(standard, standard.replace("factors: 1", "factors: 2")))
    if request.param == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, policy_file=policy)
        yield world
        world.svc.engine.dispose()
        return
    with pg_database() as url:
        world = make_world(url, tmp_path, policy_file=policy)
        try:
            yield world
        finally:
            world.svc.engine.dispose()


def test_subject_with_two_authenticators_recovers_with_the_other_and_a_code(
    two_factor_world: World,
) -> None:
    """R-46: the security key is lost; the TOTP app plus a saved code recover the
    account through self-service, without the help desk."""
    world = two_factor_world
    world.subject("dana", with_totp=True, codes=2)
    enrol_webauthn(world, "dana")
    with TestClient(create_app(world.svc)) as api:
        flow = start(api, "dana")
        proofs = f"/api/v1/self-service/recoveries/{flow}/proofs"
        first = api.post(proofs, json={"method": "totp", "code": world.totp_now("dana")})
        assert first.status_code == 200 and first.json()["status"] == "more_proof_required"
        second = api.post(
            proofs, json={"method": "recovery_code", "code": world.recovery_codes["dana"][0]}
        )
        assert second.status_code == 200, second.text
        assert second.json()["status"] == "link_sent"
        assert second.json()["replacement_recovery_code"]
        assert finish_recovery(world, api, "dana") == "completed"
    link = world.mail("dana@example.org", "reset_link")[-1]
    with world.svc.uow() as uow:
        case = uow.cases.get(link["case_id"])
    assert case.channel == "self_service" and case.requested_by == "subject:dana"
    assert {p.method for p in case.proofs if p.passed} == {"totp", "recovery_code"}


def test_subject_adds_a_phone_number_over_http(world: World, api: TestClient) -> None:
    """R-14, R-44 through the API: ``kind: sms`` adds a phone number in E.164,
    confirmed by a texted code; a number in national form or an unknown kind
    answers 422 invalid_input."""
    world.subject("dana")
    with_password(world, "dana")
    signed = api.post("/api/v1/me/sign-in", json={"identifier": "dana", "password": PASSWORD})
    session = signed.json()["session"]
    added = api.post(
        "/api/v1/me/contacts",
        headers=bearer(session),
        json={"address": "+1 415 555 0100", "kind": "sms"},
    )
    assert added.status_code == 201, added.text
    (text,) = texts(world)
    assert text["to"] == "+14155550100"
    code = text["body"].split("Custos: ")[1][:8]
    confirmed = api.post(
        f"/api/v1/me/contacts/{added.json()['id']}/confirm",
        headers=bearer(session),
        json={"code": code},
    )
    assert confirmed.status_code == 200, confirmed.text
    listed = api.get("/api/v1/me/contacts", headers=bearer(session)).json()
    assert {"kind": "sms", "address": "+14155550100"}.items() <= next(
        c for c in listed if c["kind"] == "sms"
    ).items()
    for body in ({"address": "0415 555 0100", "kind": "sms"}, {"address": "x", "kind": "fax"}):
        refused = api.post("/api/v1/me/contacts", headers=bearer(session), json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["id"] == "invalid_input"


def test_contact_confirmation_code_is_void_after_five_wrong_tries(
    world: World, api: TestClient
) -> None:
    """R-14, R-15, R-36 through the API: four wrong codes answer 400
    proofing_failed, the fifth voids the code (409 code_voided, a ledger event,
    and a status the OpenAPI document lists) and from then on even the right
    code answers code_voided; removing the
    contact and adding it again sends a new code that works."""
    world.subject("erin")
    with_password(world, "erin")
    signed = api.post("/api/v1/me/sign-in", json={"identifier": "erin", "password": PASSWORD})
    session = bearer(signed.json()["session"])
    address = "erin@home.example.net"
    added = api.post("/api/v1/me/contacts", headers=session, json={"address": address})
    contact = added.json()["id"]
    right = _contact_code(world, address)
    wrong = f"{(int(right) + 1) % 10**8:08d}"
    answers = [
        api.post(f"/api/v1/me/contacts/{contact}/confirm", headers=session, json={"code": wrong})
        for _ in range(5)
    ]
    assert [(a.status_code, a.json()["error"]["id"]) for a in answers] == [
        (400, "proofing_failed")
    ] * 4 + [(409, "code_voided")]
    late = api.post(f"/api/v1/me/contacts/{contact}/confirm", headers=session, json={"code": right})
    assert (late.status_code, late.json()["error"]["id"]) == (409, "code_voided")
    documented = api.get("/api/v1/openapi.json").json()["paths"]
    assert "409" in documented["/api/v1/me/contacts/{contact_id}/confirm"]["post"]["responses"]
    with world.svc.engine.connect() as conn:
        voided = list(
            conn.execute(
                select(ledger.c.outcome).where(ledger.c.type == "enrolment:contact:code_voided")
            ).scalars()
        )
    assert voided == ["denied"]
    assert api.delete(f"/api/v1/me/contacts/{contact}", headers=session).status_code == 204
    again = api.post("/api/v1/me/contacts", headers=session, json={"address": address})
    fresh = api.post(
        f"/api/v1/me/contacts/{again.json()['id']}/confirm",
        headers=session,
        json={"code": _contact_code(world, address)},
    )
    assert fresh.status_code == 200, fresh.text


def _contact_code(world: World, address: str) -> str:
    body = world.mail(address, "contact_confirmation")[-1]["body"]
    match = re.search(r"code within \d+ minutes: (\d{8})", body)
    assert match, body
    return match.group(1)
