"""The help-desk WebAuthn link page in a real browser: Debian's Chromium with a
virtual authenticator (Chrome DevTools Protocol) against the app served by
uvicorn. The key is registered through the subject's /me API from the browser,
so the browser's authenticator holds it; the help-desk agent then sends the link,
and the page opened from the email answers the case's challenge."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from browser_harness import REGISTER_JS, add_virtual_authenticator, chromium
from live_server import free_port, serve
from playwright.sync_api import Page, expect
from subject_helpers import PASSWORD, with_password

from conftest import World, make_world
from custos.domain.model import Role

#: Set to a directory to keep screenshots of the page (development only).
SHOTS = os.environ.get("CUSTOS_BROWSER_SHOTS")


@dataclass
class Site:
    world: World
    origin: str
    page: Page
    operator: httpx.Client

    def emailed_link(self, subject_id: str) -> str:
        """The URL in the last ``webauthn_link`` message to the subject."""
        mails = self.world.mail(f"{subject_id}@example.org", "webauthn_link")
        assert mails, "no webauthn_link message arrived"
        body = str(mails[-1]["body"])
        return body[body.index(f"{self.origin}/webauthn#link=") :].split()[0]

    def shot(self, name: str) -> None:
        if SHOTS:
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    # WebAuthn needs a secure context and a domain as RP id: http://localhost is both.
    origin = f"http://localhost:{port}"
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin=origin)
    world.operator("hana", Role.REQUESTER)
    try:
        with (
            serve(world, port),
            chromium() as browser,
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {world.tokens['hana']}"},
            ) as operator,
        ):
            context = browser.new_context()
            page = context.new_page()
            add_virtual_authenticator(page)
            yield Site(world=world, origin=origin, page=page, operator=operator)
            context.close()
    finally:
        world.svc.engine.dispose()


def register_key_in_browser(site: Site, subject_id: str) -> None:
    """The subject signs in and binds the browser's (virtual) key via /api/v1/me."""
    site.world.subject(subject_id)
    with_password(site.world, subject_id)
    site.page.goto(f"{site.origin}/webauthn")
    result = site.page.evaluate(
        REGISTER_JS, {"identifier": subject_id, "password": PASSWORD, "label": "virtual key"}
    )
    assert result["status"] == 201, result
    assert result["body"]["kind"] == "webauthn" and result["body"]["active"]


def helpdesk_link(site: Site, subject_id: str) -> tuple[str, str]:
    """The agent opens a case and sends the WebAuthn link; returns (case, emailed URL)."""
    opened = site.operator.post(
        "/api/v1/cases", json={"subject": subject_id, "reason": "caller locked out"}
    )
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["id"])
    sent = site.operator.post(f"/api/v1/cases/{case_id}/webauthn-link")
    assert sent.status_code == 202, sent.text
    return case_id, site.emailed_link(subject_id)


def answer_link(site: Site, url: str) -> None:
    """Open ``url`` as a fresh load (as from a mail client) and press the button."""
    site.page.goto("about:blank")
    response = site.page.goto(url)
    assert response is not None and response.status == 200
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert "script-src 'self';" in headers["content-security-policy"]
    # The link never stays in the address bar or history.
    assert site.page.url == f"{site.origin}/webauthn"
    site.page.get_by_role("button", name="Use my security key").click()


def webauthn_proofs(site: Site, case_id: str) -> list[bool]:
    case = site.operator.get(f"/api/v1/cases/{case_id}")
    assert case.status_code == 200, case.text
    return [p["passed"] for p in case.json()["proofs"] if p["method"] == "webauthn"]


def test_webauthn_link_page_proves_case_with_browser_key(site: Site) -> None:
    """The subject opens the emailed help-desk link in the browser; the page gets
    the case's challenge, the browser's key answers it, and the case records a
    passed phishing-resistant proof the agent can see."""
    register_key_in_browser(site, "bob")
    case_id, url = helpdesk_link(site, "bob")
    answer_link(site, url)
    status = site.page.locator("#status .notice")
    expect(status).to_contain_text("Confirmed", timeout=15_000)
    expect(status).to_have_class("notice ok")
    site.shot("webauthn-link-passed")
    assert webauthn_proofs(site, case_id) == [True]


def test_webauthn_link_page_refuses_replayed_link(site: Site) -> None:
    """A link already answered is used up: opening it again says so in plain
    words, and the case gains no second proof."""
    register_key_in_browser(site, "bob")
    case_id, url = helpdesk_link(site, "bob")
    answer_link(site, url)
    expect(site.page.locator("#status")).to_contain_text("Confirmed", timeout=15_000)
    answer_link(site, url)
    status = site.page.locator("#status .notice")
    expect(status).to_contain_text("already used or it expired", timeout=15_000)
    expect(status).to_have_class("notice bad")
    site.shot("webauthn-link-replayed")
    assert webauthn_proofs(site, case_id) == [True]


def test_recover_page_with_key_and_email_code_sends_reset_link(site: Site) -> None:
    """The subject recovers alone on /recover: user name, then the browser's key.
    The key was bound minutes ago (a risk signal), so a second proof is asked for:
    the emailed code. Then the page says to check the email, and the reset link
    is in it."""
    register_key_in_browser(site, "bob")
    page = site.page
    page.goto(f"{site.origin}/recover")
    page.get_by_label("User name or email").fill("bob")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Use my security key").click()
    status = page.locator("#status")
    expect(status).to_contain_text("One more proof is needed", timeout=15_000)
    page.get_by_role("button", name="Email me a code").click()
    expect(status).to_contain_text("a code is on its way", timeout=15_000)
    page.get_by_label("Code from the email").fill(site.world.last_code("bob"))
    page.get_by_role("button", name="Verify").click()
    expect(status).to_contain_text("Check your email", timeout=15_000)
    site.shot("recover-link-sent")
    link = site.world.mail("bob@example.org", "reset_link")[-1]
    with site.world.svc.uow() as uow:
        case = uow.cases.get(link["case_id"])
    assert {p.method for p in case.proofs if p.passed} == {"webauthn", "email_code"}
