"""Issue 13 through the HTTP API with mail on a real SMTP server on loopback
(STARTTLS + AUTH): under the default policy a contractor's sponsor is mailed
only after the contractor passed a first proof, never on anonymous starts
(before the fix five starts sent the sponsor ten mails), and at most
``defaults.attestation_requests`` times per subject and per sponsor a day
(R-20: requests are rate-limited against inbox flooding). SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mail_world import mail_world
from servers.smtp import SmtpServer
from sponsor_attestation import with_sponsor

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.model import Employment

SPONSOR = "sam"
SPONSOR_ADDRESS = f"{SPONSOR}@example.org"


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, smtp: SmtpServer) -> Iterator[World]:
    yield from mail_world(request.param, tmp_path, smtp.settings(), server=smtp)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def _contractor(world: World, subject_id: str) -> None:
    world.subject(subject_id, employment=Employment.CONTRACTOR, groups=("contractors",))
    with_sponsor(world, subject_id, SPONSOR)


def _start(api: TestClient, subject_id: str) -> str:
    """An anonymous start that asks for an email code (it resolves the flow)."""
    started = api.post("/api/v1/self-service/recoveries", json={"identifier": subject_id})
    assert started.status_code == 202, started.text
    flow = str(started.json()["flow"])
    assert api.post(f"/api/v1/self-service/recoveries/{flow}/email-code").status_code == 202
    return flow


def _prove(api: TestClient, smtp: SmtpServer, flow: str, subject_id: str, nth: int = -1) -> str:
    """Submit the ``nth`` email code ``subject_id`` received on ``flow``."""
    body = smtp.to(f"{subject_id}@example.org", "email_code")[nth].text
    code = re.search(r"is (\d{8})\.", body)
    assert code, body
    proof = api.post(
        f"/api/v1/self-service/recoveries/{flow}/proofs",
        json={"method": "email_code", "code": code.group(1)},
    )
    assert proof.status_code == 200, proof.text
    return str(proof.json()["status"])


def _sponsor_mails(smtp: SmtpServer) -> int:
    mails = smtp.to(SPONSOR_ADDRESS, "attestation_request")
    assert all(m.tls and m.authenticated for m in mails)
    return len(mails)


def test_five_anonymous_starts_send_the_sponsor_nothing_then_one_proof_one_mail(
    world: World, api: TestClient, smtp: SmtpServer
) -> None:
    """R-20, R-7: five starts (the first ones sending the contractor a code)
    reach the sponsor with no mail; the first passed proof sends exactly one,
    with the attestation link and no code; the contractor gets no reset link
    yet."""
    _contractor(world, "carl")
    flows = [_start(api, "carl") for _ in range(5)]
    assert smtp.to("carl@example.org", "email_code")
    assert _sponsor_mails(smtp) == 0
    assert _prove(api, smtp, flows[0], "carl", nth=0) == "more_proof_required"
    [mail] = smtp.to(SPONSOR_ADDRESS, "attestation_request")
    assert "https://recovery.example.org/attest#token=" in mail.text
    code = smtp.to("carl@example.org", "email_code")[0].text
    digits = re.search(r"is (\d{8})\.", code)
    assert digits and digits.group(1) not in mail.text
    assert smtp.to("carl@example.org", "reset_link") == []


def test_sponsor_mails_are_capped_per_subject_and_per_sponsor(
    world: World, api: TestClient, smtp: SmtpServer
) -> None:
    """The default caps: 2 requests per contractor and 5 per sponsor in 24 h.
    Four proved flows of one contractor mail the sponsor twice; five more
    contractors of the same sponsor add three; a day later one more goes out."""
    _contractor(world, "carl")
    for _ in range(4):
        _prove(api, smtp, _start(api, "carl"), "carl")
        world.clock.advance(timedelta(minutes=30))
    assert _sponsor_mails(smtp) == 2
    for name in ("con1", "con2", "con3", "con4", "con5"):
        _contractor(world, name)
        _prove(api, smtp, _start(api, name), name)
    assert _sponsor_mails(smtp) == 5
    world.clock.advance(timedelta(days=1))
    _prove(api, smtp, _start(api, "carl"), "carl")
    assert _sponsor_mails(smtp) == 6
