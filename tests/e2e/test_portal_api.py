"""What the self-service API tells the portal's pages, over HTTP on SQLite and
PostgreSQL: the methods offered (the same for every identifier until a proof
passes, then what the subject's tier accepts and the subject has), the password
rules' verdict before submitting, the systems a recovery updated, and the TOTP
QR code."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from subject_helpers import sign_in, with_password

from conftest import BACKENDS, World, make_world, pg_database
from custos.api.app import create_app
from custos.domain.model import Contact, ContactKind, Employment
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.store.tables import ledger

NEW_PASSWORD = "quartz-lantern-meadow-7-orbit"
SELF_SERVICE = "/api/v1/self-service"
STANDARD = "proofing: {factors: 1, methods: [webauthn, totp, recovery_code, email_code]}"
#: The default contractor tier already takes two factors (one the sponsor's).
CONTRACTOR = (
    "      factors: 2\n      methods: [totp, recovery_code, email_code, manager_attestation]\n"
)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


@pytest.fixture(params=BACKENDS)
def two_factor_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Employees and contractors prove twice; employees may also use SMS codes."""
    text = DEFAULT_POLICY_PATH.read_text()
    assert STANDARD in text and CONTRACTOR in text
    text = text.replace(
        STANDARD,
        "proofing: {factors: 2, methods: [webauthn, totp, recovery_code, email_code, sms_code]}",
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
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


def start(api: TestClient, identifier: str) -> dict[str, object]:
    answer = api.post(f"{SELF_SERVICE}/recoveries", json={"identifier": identifier})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def with_phone(world: World, subject_id: str) -> None:
    """Give ``subject_id`` a confirmed phone number for SMS codes."""
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        assert subject is not None
        phone = Contact(ContactKind.SMS, "+491701234567", True)
        uow.subjects.update(dataclasses.replace(subject, contacts=(*subject.contacts, phone)))
        uow.commit()


def totp_proof(world: World, api: TestClient, flow: str, subject_id: str) -> dict[str, object]:
    answer = api.post(
        f"{SELF_SERVICE}/recoveries/{flow}/proofs",
        json={"method": "totp", "code": world.totp_now(subject_id)},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_methods_offered_at_start_are_the_same_for_every_identifier(
    world: World, api: TestClient
) -> None:
    """R-19: before any proof the offer is the policy's (every method a
    self-service tier accepts and a subject answers on the page), never the
    account's: a known, a privileged and an unknown identifier read alike."""
    world.subject("bob", with_totp=True)
    world.subject("root", privileged=True)
    answers = [start(api, name) for name in ("bob", "root", "nobody-at-all")]
    for answer in answers:
        del answer["flow"]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["methods"] == ["webauthn", "totp", "recovery_code", "email_code"]


def test_after_a_passed_proof_each_tier_offers_what_it_accepts_and_the_subject_has(
    two_factor_world: World,
) -> None:
    """The same enrolment (app, saved codes, email, phone) in two tiers: after the
    app's code, the employee is offered the codes, the email and the phone; the
    contractor, whose tier takes no SMS, the codes and the email only. A proof
    already passed is not offered again, nor a key the subject does not have."""
    world = two_factor_world
    with TestClient(create_app(world.svc)) as api:
        anyone = start(api, "anyone")["methods"]
        assert isinstance(anyone, list) and "sms_code" in anyone
        world.subject("fay", with_totp=True, codes=2)
        world.subject(
            "gus",
            with_totp=True,
            codes=2,
            employment=Employment.CONTRACTOR,
            groups=("contractors",),
        )
        offered = {}
        for subject_id in ("fay", "gus"):
            with_phone(world, subject_id)
            proof = totp_proof(world, api, str(start(api, subject_id)["flow"]), subject_id)
            assert proof["status"] == "more_proof_required"
            offered[subject_id] = proof["methods"]
    assert offered == {
        "fay": ["recovery_code", "email_code", "sms_code"],
        "gus": ["recovery_code", "email_code"],
    }


def test_a_failed_proof_tells_nothing_about_the_methods(world: World, api: TestClient) -> None:
    world.subject("bob", with_totp=True)
    flow = start(api, "bob")["flow"]
    wrong = api.post(
        f"{SELF_SERVICE}/recoveries/{flow}/proofs", json={"method": "totp", "code": "000000"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["id"] == "proofing_failed"
    assert "methods" not in json.dumps(wrong.json())


def reset_token(world: World, api: TestClient, subject_id: str) -> str:
    flow = start(api, subject_id)["flow"]
    assert api.post(f"{SELF_SERVICE}/recoveries/{flow}/email-code").status_code == 202
    proof = api.post(
        f"{SELF_SERVICE}/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": world.last_code(subject_id)},
    )
    assert proof.json()["status"] == "link_sent", proof.text
    return world.last_link_token(subject_id)


def ledger_size(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return len(conn.execute(ledger.select()).all())


def test_the_reset_check_gives_the_rules_verdict_and_changes_nothing(
    world: World, api: TestClient
) -> None:
    """The page rates a candidate with the rules redemption applies (zxcvbn with
    the subject's own data); checking writes nothing and leaves the link live."""
    world.subject("erin")
    token = reset_token(world, api, "erin")
    size = ledger_size(world)
    rules = api.post(f"{SELF_SERVICE}/reset/check", json={"token": token})
    assert rules.status_code == 200, rules.text
    assert rules.headers["cache-control"] == "no-store"
    body = rules.json()
    assert (body["action"], body["min_length"], body["verdict"]) == ("reset_token", 15, None)
    weak = api.post(
        f"{SELF_SERVICE}/reset/check", json={"token": token, "new_password": "erin-example"}
    ).json()["verdict"]
    assert weak["acceptable"] is False and weak["score"] < 3
    assert weak["reasons"] == [
        "must be at least 15 characters long",
        "must not contain your name, email address or account identifiers",
        "is too easy to guess; use a longer passphrase of uncommon words",
    ]
    refused = api.post(
        f"{SELF_SERVICE}/reset", json={"token": token, "new_password": "erin-example"}
    )
    assert refused.json()["error"]["details"]["reasons"] == weak["reasons"]
    strong = api.post(
        f"{SELF_SERVICE}/reset/check", json={"token": token, "new_password": NEW_PASSWORD}
    ).json()["verdict"]
    assert strong == {"acceptable": True, "reasons": [], "score": 4}
    # Only the refused redemption wrote to the ledger (its password_rejected event).
    assert ledger_size(world) == size + 1
    done = api.post(f"{SELF_SERVICE}/reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    used = api.post(f"{SELF_SERVICE}/reset/check", json={"token": token})
    assert used.status_code == 400 and used.json()["error"]["id"] == "token_invalid"


def test_the_reset_check_refuses_unknown_and_expired_links(world: World, api: TestClient) -> None:
    world.subject("erin")
    token = reset_token(world, api, "erin")
    for bad in ("not-a-token", "crt_" + "A" * 43):
        answer = api.post(f"{SELF_SERVICE}/reset/check", json={"token": bad})
        assert answer.status_code == 400 and answer.json()["error"]["id"] == "token_invalid"
    world.clock.advance(timedelta(minutes=16))  # the standard tier's token_ttl is 15 minutes
    expired = api.post(f"{SELF_SERVICE}/reset/check", json={"token": token})
    assert expired.status_code == 400 and expired.json()["error"]["id"] == "token_expired"


def test_a_second_factor_lowers_the_length_the_rules_ask_for(world: World, api: TestClient) -> None:
    world.subject("bob", with_totp=True)
    token = reset_token(world, api, "bob")
    assert api.post(f"{SELF_SERVICE}/reset/check", json={"token": token}).json()["min_length"] == 8


def test_the_progress_ticket_names_the_systems_updated(world: World, api: TestClient) -> None:
    """The last page: redemption answers a ticket that reads the receipts of the
    case (system, account, state) until the recovery finished; the ticket is in
    no message and no ledger entry, and a forged or old one is refused."""
    world.subject("erin")
    token = reset_token(world, api, "erin")
    redeemed = api.post(
        f"{SELF_SERVICE}/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    ticket = redeemed.json()["progress"]
    before = api.post(f"{SELF_SERVICE}/reset/progress", json={"ticket": ticket})
    assert before.status_code == 200, before.text
    assert before.headers["cache-control"] == "no-store"
    assert before.json()["finished"] is False
    assert [(s["system"], s["account"], s["state"]) for s in before.json()["systems"]] == [
        ("directory", "erin", "pending")
    ]
    world.drain()
    after = api.post(f"{SELF_SERVICE}/reset/progress", json={"ticket": ticket}).json()
    assert (after["state"], after["finished"]) == ("completed", True)
    assert [s["state"] for s in after["systems"]] == ["succeeded"]
    assert after["case"] == redeemed.json()["case"]

    body, _, tag = ticket.rpartition(".")
    forged = f"{body}.{'0' * len(tag)}"
    other_case = ticket.replace(redeemed.json()["case"], "case-20261125-0000000000")
    for bad in (forged, other_case, "garbage"):
        answer = api.post(f"{SELF_SERVICE}/reset/progress", json={"ticket": bad})
        assert answer.status_code == 400 and answer.json()["error"]["id"] == "token_invalid"
    with world.svc.engine.connect() as conn:
        entries = "\n".join(r.canonical for r in conn.execute(ledger.select()))
    mails = json.dumps(world.mail("erin@example.org", "recovery_notice"))
    assert tag not in entries and tag not in mails
    world.clock.advance(timedelta(hours=25))
    old = api.post(f"{SELF_SERVICE}/reset/progress", json={"ticket": ticket})
    assert old.status_code == 400 and old.json()["error"]["id"] == "token_expired"


def test_a_new_authenticator_app_comes_with_its_qr_code(world: World, api: TestClient) -> None:
    """The secret is shown once, as the otpauth URI and as a QR code drawn in the
    same answer (an SVG data: URI, which the pages' CSP allows as an image)."""
    world.subject("carol")
    with_password(world, "carol")
    session = sign_in(world, "carol").token
    answer = api.post("/api/v1/me/methods/totp", headers={"Authorization": f"Bearer {session}"})
    assert answer.status_code == 201, answer.text
    qr = answer.json()["qr_code"]
    assert qr.startswith("data:image/svg+xml")
    svg = urllib.parse.unquote(qr.split(",", 1)[1])
    assert svg.startswith("<svg") and re.search(r"<path[^>]+d=", svg)
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.json()["otpauth_uri"]).query)
    assert secret["secret"][0] not in svg  # drawn, not written out
