"""The pages that a help desk's or a recovery's emails open, in a real browser:
a manager attests from their link, a subject answers an agent's challenge on
their own device, a contact stops a recovery they did not ask for. Each page
reads its token from the fragment, decides nothing before the click, and passes
axe-core."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from accessibility import assert_accessible
from playwright.sync_api import expect
from portal_browser import Portal, open_portal

from custos.domain.model import Employment, Role
from custos.service.recovery import self_service

WAIT = 15_000


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with open_portal(tmp_path) as site:
        yield site


@pytest.fixture
def agent(portal: Portal) -> Iterator[httpx.Client]:
    """A help-desk agent calling the API of the portal's server."""
    portal.world.operator("hana", Role.REQUESTER)
    with httpx.Client(
        base_url=portal.origin.replace("localhost", "127.0.0.1"),
        headers={"Authorization": f"Bearer {portal.world.tokens['hana']}"},
    ) as client:
        yield client


def open_case(agent: httpx.Client, subject_id: str) -> str:
    opened = agent.post(
        "/api/v1/cases", json={"subject": subject_id, "reason": "caller locked out"}
    )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["id"])


def proofs(portal: Portal, case_id: str) -> list[tuple[str, bool]]:
    with portal.world.svc.uow() as uow:
        case = uow.cases.get(case_id)
    return [(p.method, p.passed) for p in case.proofs]


def open_link(portal: Portal, url: str, path: str) -> None:
    portal.open(url[len(portal.origin) :])
    assert portal.page.url == f"{portal.origin}{path}"  # the token left the address bar


def test_a_sponsor_attests_from_the_emailed_link(portal: Portal, agent: httpx.Client) -> None:
    """A contractor's tier takes the sponsor's attestation (R-1)."""
    world = portal.world
    world.subject("mia")
    subject = world.subject("bob", employment=Employment.CONTRACTOR, groups=("contractors",))
    with world.svc.uow() as uow:
        uow.subjects.update(dataclasses.replace(subject, sponsor="mia"))
        uow.commit()
    case_id = open_case(agent, "bob")
    assert agent.post(f"/api/v1/cases/{case_id}/attestation").status_code == 202
    open_link(
        portal, portal.emailed_url("mia@example.org", "attestation_request", "/attest"), "/attest"
    )
    facts = portal.page.locator("#request")
    expect(facts).to_contain_text("Bob", timeout=WAIT)
    expect(facts).to_contain_text("caller locked out")
    assert_accessible(portal.page)
    assert proofs(portal, case_id) == []  # opening the link decided nothing
    portal.page.get_by_role("button", name="Attest").click()
    expect(portal.page.locator("#status")).to_contain_text(
        "you confirmed the request", timeout=WAIT
    )
    assert proofs(portal, case_id) == [("manager_attestation", True)]


def test_a_subject_answers_an_agents_challenge_on_their_own_device(
    portal: Portal, agent: httpx.Client
) -> None:
    """The privileged tier takes an agent's challenge (R-21, R-45)."""
    world, page = portal.world, portal.page
    world.subject("root", privileged=True, with_totp=True)
    case_id = open_case(agent, "root")
    triggered = agent.post(f"/api/v1/cases/{case_id}/challenge", json={"mode": "totp"})
    assert triggered.status_code == 202, triggered.text
    open_link(
        portal,
        portal.emailed_url("root@example.org", "agent_challenge", "/challenge"),
        "/challenge",
    )
    expect(page.locator("#prompt")).to_have_text(
        "Enter the current code from your authenticator app.", timeout=WAIT
    )
    assert_accessible(page)
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#status")).to_contain_text("Check it and try again", timeout=WAIT)
    page.get_by_label("Code").fill(world.totp_now("root"))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#status .notice")).to_contain_text("Verified", timeout=WAIT)
    expect(page.locator("#answer")).to_be_hidden()
    assert ("agent_challenge", True) in proofs(portal, case_id)


def test_a_contact_stops_a_recovery_they_did_not_ask_for(portal: Portal) -> None:
    """R-43: the recovery notice's link stops the recovery, on a click only."""
    world, page = portal.world, portal.page
    world.subject("erin")
    flow = self_service.start(world.svc, identifier="erin", source_address="10.1.1.1")
    self_service.request_email_code(world.svc, handle=flow)
    self_service.submit_proof(
        world.svc, handle=flow, method="email_code", response=world.last_code("erin")
    )
    url = portal.emailed_url("erin@example.org", "recovery_notice", "/repudiate")
    open_link(portal, url, "/repudiate")
    assert_accessible(page)
    page.get_by_role("button", name="Stop the recovery").click()
    expect(page.locator("#status")).to_contain_text("the recovery has been stopped", timeout=WAIT)
    case_id = world.mail("erin@example.org", "recovery_notice")[-1]["case_id"]
    with world.svc.uow() as uow:
        assert str(uow.cases.get(case_id).state) == "blocked"
