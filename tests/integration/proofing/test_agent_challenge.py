"""Agent-run challenges (R-21, R-45): the agent triggers, the subject answers on
their own device, the agent sees only pending, passed, failed or expired, and
never a code or link; challenges are rate-limited and suppression is audited.
On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from assisted_helpers import auth, detail, event_types, ledger_text, link_token, open_case
from fastapi.testclient import TestClient
from proof_world import proof_world

from conftest import BACKENDS, World
from custos.api.app import create_app


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    yield from proof_world(request.param, tmp_path)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


class AgentView:
    """Every response the agent got, to prove no code or link reached them."""

    def __init__(self, world: World, api: TestClient) -> None:
        self.world, self.api = world, api
        self.seen: list[str] = []

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.api.post(path, headers=auth(self.world, "hana"), json=body or {})
        self.seen.append(response.text)
        return response

    def case(self, case_id: str) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/cases/{case_id}", headers=auth(self.world, "hana"))
        self.seen.append(response.text)
        return dict(response.json())


def answer(api: TestClient, token: str, code: str) -> Any:
    return api.post("/api/v1/challenges/answer", json={"token": token, "code": code})


def test_totp_challenge_passes_and_agent_sees_only_the_result(
    world: World, api: TestClient
) -> None:
    """R-45, R-34: the subject types their TOTP code on their own device; the
    agent's responses and the ledger never hold the code or the link."""
    world.subject("bob", with_totp=True)
    case_id = open_case(world, api, "bob")
    agent = AgentView(world, api)
    sent = agent.post(f"/api/v1/cases/{case_id}/challenge", {"mode": "totp"})
    assert sent.status_code == 202, sent.text
    assert sent.json()["challenge"] == "pending" and sent.json()["mode"] == "totp"
    assert agent.case(case_id)["challenges"][0]["state"] == "pending"

    token = link_token(world, "bob@example.org", "agent_challenge")
    prompt = api.post("/api/v1/challenges/lookup", json={"token": token})
    assert prompt.json() == {
        "case": case_id,
        "mode": "totp",
        "expires_at": prompt.json()["expires_at"],
    }
    code = world.totp_now("bob")
    passed = answer(api, token, code)
    assert passed.status_code == 200 and passed.json() == {"result": "passed"}

    story = agent.case(case_id)
    assert story["challenges"][0]["state"] == "passed"
    assert story["state"] == "approved"
    assert [(p["method"], p["passed"]) for p in story["proofs"]] == [("agent_challenge", True)]
    types = event_types(world, case_id)
    assert "proofing:agent_challenge:sent" in types
    assert "proofing:agent_challenge:answered" in types
    everything = "\n".join([*agent.seen, ledger_text(world)])
    assert token not in everything and code not in everything and "#token=" not in everything


def test_contact_code_challenge_passes_when_subject_types_the_code(
    world: World, api: TestClient
) -> None:
    world.subject("bob")
    case_id = open_case(world, api, "bob")
    agent = AgentView(world, api)
    sent = agent.post(f"/api/v1/cases/{case_id}/challenge")
    assert sent.json()["mode"] == "contact_code"  # no TOTP enrolled
    token = link_token(world, "bob@example.org", "agent_challenge")
    code = world.last_code("bob")
    assert answer(api, token, code).json() == {"result": "passed"}
    everything = "\n".join([*agent.seen, repr(agent.case(case_id)), ledger_text(world)])
    assert code not in everything and token not in everything


def test_challenge_fails_after_three_wrong_answers(world: World, api: TestClient) -> None:
    world.subject("bob")
    case_id = open_case(world, api, "bob")
    AgentView(world, api).post(f"/api/v1/cases/{case_id}/challenge")
    token = link_token(world, "bob@example.org", "agent_challenge")
    results = [answer(api, token, "00000000").json()["result"] for _ in range(3)]
    assert results == ["retry", "retry", "failed"]
    story = detail(world, api, case_id)
    assert story["challenges"][0]["state"] == "failed"
    assert [(p["method"], p["passed"]) for p in story["proofs"]] == [("agent_challenge", False)]
    late = answer(api, token, world.last_code("bob"))
    assert late.status_code == 400 and late.json()["error"]["id"] == "token_invalid"


def test_challenge_link_cannot_be_replayed(world: World, api: TestClient) -> None:
    world.subject("bob", with_totp=True)
    case_id = open_case(world, api, "bob")
    AgentView(world, api).post(f"/api/v1/cases/{case_id}/challenge", {"mode": "totp"})
    token = link_token(world, "bob@example.org", "agent_challenge")
    assert answer(api, token, world.totp_now("bob")).json() == {"result": "passed"}
    world.clock.advance(timedelta(seconds=30))
    again = answer(api, token, world.totp_now("bob"))
    assert again.status_code == 400 and again.json()["error"]["id"] == "token_invalid"


def test_challenge_expires_after_ten_minutes(world: World, api: TestClient) -> None:
    """R-15: an out-of-band challenge lives at most 10 minutes."""
    world.subject("bob", with_totp=True)
    case_id = open_case(world, api, "bob")
    agent = AgentView(world, api)
    agent.post(f"/api/v1/cases/{case_id}/challenge", {"mode": "totp"})
    token = link_token(world, "bob@example.org", "agent_challenge")
    world.clock.advance(timedelta(minutes=10, seconds=1))
    late = answer(api, token, world.totp_now("bob"))
    assert late.status_code == 400 and late.json()["error"]["id"] == "token_invalid"
    assert agent.case(case_id)["challenges"][0]["state"] == "expired"


def test_newer_challenge_supersedes_the_pending_one(world: World, api: TestClient) -> None:
    world.subject("bob")
    case_id = open_case(world, api, "bob")
    agent = AgentView(world, api)
    agent.post(f"/api/v1/cases/{case_id}/challenge")
    first = link_token(world, "bob@example.org", "agent_challenge")
    agent.post(f"/api/v1/cases/{case_id}/challenge")
    stale = answer(api, first, world.last_code("bob"))
    assert stale.status_code == 400
    assert [c["state"] for c in agent.case(case_id)["challenges"]] == ["superseded", "pending"]


def test_challenges_are_rate_limited_and_suppression_is_audited(
    world: World, api: TestClient
) -> None:
    """R-21: no push bombing. A fourth challenge within 15 minutes is refused,
    and the refusal is a ledger event."""
    world.subject("bob")
    case_id = open_case(world, api, "bob")
    agent = AgentView(world, api)
    for _ in range(3):
        assert agent.post(f"/api/v1/cases/{case_id}/challenge").status_code == 202
    suppressed = agent.post(f"/api/v1/cases/{case_id}/challenge")
    assert suppressed.status_code == 429
    assert suppressed.json()["error"]["id"] == "throttled"
    assert len(world.mail("bob@example.org", "agent_challenge")) == 3
    assert "proofing:agent_challenge:suppressed" in event_types(world, case_id)
    world.clock.advance(timedelta(minutes=16))
    assert agent.post(f"/api/v1/cases/{case_id}/challenge").status_code == 202


def test_challenges_are_rate_limited_per_subject_across_cases(
    world: World, api: TestClient
) -> None:
    """R-21: a new case does not reset the subject's challenge budget."""
    world.subject("bob")
    agent = AgentView(world, api)
    for _ in range(2):
        case_id = open_case(world, api, "bob")
        for _ in range(3 if _ == 0 else 2):
            assert agent.post(f"/api/v1/cases/{case_id}/challenge").status_code == 202
        api.post(
            f"/api/v1/cases/{case_id}/cancel", headers=auth(world, "hana"), json={"reason": "x"}
        )
    case_id = open_case(world, api, "bob")
    assert agent.post(f"/api/v1/cases/{case_id}/challenge").status_code == 429
    assert "proofing:agent_challenge:suppressed" in event_types(world, case_id)


def test_agent_cannot_record_a_challenge_result_as_a_code(world: World, api: TestClient) -> None:
    """R-45: the agent never answers the challenge for the subject."""
    world.subject("bob", with_totp=True)
    case_id = open_case(world, api, "bob")
    code = pyotp.TOTP(world.totp_secrets["bob"]).at(world.clock.now())
    typed = AgentView(world, api).post(
        f"/api/v1/cases/{case_id}/proofs", {"method": "agent_challenge", "code": code}
    )
    assert typed.status_code == 422
    assert detail(world, api, case_id)["proofs"] == []


def test_challenge_page_is_served_without_caching(world: World, api: TestClient) -> None:
    page = api.get("/challenge")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert re.search(r"never read it out", page.text, re.IGNORECASE)
