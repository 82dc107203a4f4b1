"""The help-desk journey in real browsers (Debian's Chromium, Playwright) against
the app served by uvicorn: a privileged subject locked out calls the help desk.

* The subject's own browser holds a security key (a virtual authenticator);
* the help desk finds the subject with the live search, opens a case with a
  reason and a ticket, sends the security-key link (answered in the subject's
  browser) and an email code (read out by the caller, typed by the agent);
* two approvers from security-approvers, each in a browser context of their
  own, find it in their approvals inbox and approve it there with a reason;
* the executor executes; the subject sets the password (through the reset
  API, as the reset page does); the worker runs, and the executor's case page,
  never reloaded by the test, shows the receipts and checks arrive live.

axe-core runs on every console page (tests/accessibility.py), under the pages'
own CSP, and no operator's page logs an error (a CSP violation would)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from accessibility import assert_accessible
from browser_harness import REGISTER_JS, add_virtual_authenticator, chromium
from console_helpers import browser_cookie
from live_server import free_port, serve
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect
from subject_helpers import PASSWORD, with_password

from conftest import World, make_world
from custos.domain.model import Role

SHOTS = os.environ.get("CUSTOS_BROWSER_SHOTS")
NEW_PASSWORD = "quartz-lantern-meadow-58-ferry"
#: The worker's passes are quick; the page polls every 2 s.
LIVE_TIMEOUT_MS = 30_000


@dataclass
class Journey:
    world: World
    origin: str
    browser: Browser
    api: httpx.Client
    #: Console errors (a CSP violation among them) and uncaught errors of operators' pages.
    errors: list[str] = field(default_factory=list)

    def console(self, name: str) -> Page:
        """A browser context of its own for operator ``name``, signed in."""
        context = self.browser.new_context()  # the pages' CSP stays in force
        context.add_cookies([cast(Any, browser_cookie(self.world, name, self.origin))])
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # data-confirm forms
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("response", self._response)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        # The browser asks for /favicon.ico on its own; Custos serves none.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            self.errors.append(f"{message.text} at {message.location['url']}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.errors.append(f"{response.status} from {response.url}")

    def shot(self, page: Page, name: str) -> None:
        if SHOTS:
            page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def journey(tmp_path: Path) -> Iterator[Journey]:
    port = free_port()
    origin = f"http://localhost:{port}"  # a secure context for WebAuthn
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin=origin)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    world.operator("grace", Role.APPROVER, groups=("security-approvers",))
    world.operator("edsger", Role.EXECUTOR)
    try:
        with (
            serve(world, port),
            chromium() as browser,
            httpx.Client(base_url=f"http://127.0.0.1:{port}") as api,
        ):
            yield Journey(world=world, origin=origin, browser=browser, api=api)
    finally:
        world.svc.engine.dispose()


def subject_with_key(journey: Journey, subject_id: str) -> Page:
    """The subject's own browser, whose virtual security key is bound to them."""
    journey.world.subject(subject_id, privileged=True, groups=("it-admins",))
    with_password(journey.world, subject_id)
    page = journey.browser.new_context().new_page()
    add_virtual_authenticator(page)
    page.goto(f"{journey.origin}/webauthn")
    bound = page.evaluate(
        REGISTER_JS, {"identifier": subject_id, "password": PASSWORD, "label": "own key"}
    )
    assert bound["status"] == 201, bound
    return page


def emailed_link(journey: Journey, subject_id: str, kind: str, marker: str) -> str:
    body = str(journey.world.mail(f"{subject_id}@example.org", kind)[-1]["body"])
    return body[body.index(f"{journey.origin}{marker}") :].split()[0]


def test_helpdesk_recovers_a_privileged_subject_with_live_receipts(journey: Journey) -> None:
    """R-32, R-33, R-34, R-45: two factors, one phishing-resistant on the subject's
    own device; two distinct approvers; an executor who approved nothing; no
    secret on any operator's screen; receipts shown as they land."""
    world = journey.world
    subject = subject_with_key(journey, "root")

    # The help desk finds the caller with the live search and opens a case.
    desk = journey.console("hana")
    desk.goto(f"{journey.origin}/console/subjects")
    assert_accessible(desk)
    desk.get_by_label("Find a subject").fill("roo")
    results = desk.locator("#results")
    expect(results).to_contain_text("1 subject found")
    results.get_by_role("link", name="root").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Root")
    assert_accessible(desk)
    desk.get_by_label("Reason").fill("locked out after a laptop swap")
    desk.get_by_label("Ticket reference").fill("INC-2041")
    desk.get_by_role("button", name="Open the case").click()
    expect(desk.get_by_role("status")).to_contain_text("Case opened")
    case_id = desk.url.split("/console/cases/")[1].split("?")[0]
    assert_accessible(desk)
    journey.shot(desk, "console-case-proofing")

    # Factor one, phishing-resistant: the subject's key on their own device.
    desk.get_by_role("button", name="Send a security-key link").click()
    expect(desk.get_by_role("status")).to_contain_text("A one-time link went")
    subject.goto("about:blank")
    subject.goto(emailed_link(journey, "root", "webauthn_link", "/webauthn#link="))
    subject.get_by_role("button", name="Use my security key").click()
    expect(subject.locator("#status")).to_contain_text("Confirmed", timeout=15_000)

    # Factor two: an emailed code the caller reads out; the agent types it.
    desk.goto(f"{journey.origin}/console/cases/{case_id}")
    expect(desk.locator("#method-webauthn")).to_contain_text("passed")
    desk.get_by_role("button", name="Email a code to the subject").click()
    expect(desk.get_by_role("status")).to_contain_text("A code went")
    code = world.last_code("root")
    desk.locator("#method-email_code").get_by_label("Code the caller reads to you").fill(code)
    desk.locator("#method-email_code").get_by_role("button", name="Check the code").click()
    expect(desk.get_by_role("status")).to_contain_text("The evidence matched")
    expect(desk.locator("#h-summary + dl")).to_contain_text("awaiting approval")
    assert_accessible(desk)

    # Two approvers, each in a browser context of their own, decide from their
    # inbox on the approvals page.
    for name in ("ada", "grace"):
        approver = journey.console(name)
        approver.goto(f"{journey.origin}/console/approvals")
        approver.get_by_role("link", name=case_id).click()
        expect(approver.get_by_role("heading", name=f"Case {case_id}")).to_be_visible()
        assert_accessible(approver)
        approver.get_by_label("Reason (required)").fill(
            f"{name}: caller verified with key and code"
        )
        approver.get_by_role("button", name="Approve").click()
        expect(approver.get_by_text("Your approval is recorded.")).to_be_visible()
        approver.goto(f"{journey.origin}/console/cases/{case_id}")
        expect(approver.locator("#h-req + dl")).to_contain_text(f"{name}")
        approver.context.close()

    # The executor executes; the receipts then arrive on the page without a reload.
    executor = journey.console("edsger")
    executor.goto(f"{journey.origin}/console/cases/{case_id}")
    expect(executor.locator("#h-summary + dl")).to_contain_text("approved")
    executor.get_by_role("button", name="Execute").click()
    expect(executor.get_by_role("status")).to_contain_text("Executed.")
    expect(executor.locator("#live")).to_contain_text("Waiting for the subject")
    assert_accessible(executor)
    token = emailed_link(journey, "root", "reset_link", "/reset#token=").split("#token=")[1]
    reset = journey.api.post(
        "/api/v1/self-service/reset", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    worker = threading.Thread(target=world.drain)
    worker.start()
    receipts = executor.locator("#receipts")
    expect(receipts).to_contain_text("directory", timeout=LIVE_TIMEOUT_MS)
    worker.join(timeout=60)
    expect(receipts).to_contain_text("succeeded", timeout=LIVE_TIMEOUT_MS)
    expect(executor.locator("#live")).to_contain_text("completed", timeout=LIVE_TIMEOUT_MS)
    expect(executor.locator("#checks")).to_contain_text("factors_removed")
    expect(executor.locator("#live")).not_to_have_attribute("hx-trigger", "every 2s")
    # The live part moved the page on by itself (no notice of the execution left).
    expect(executor).to_have_url(f"{journey.origin}/console/cases/{case_id}")
    assert_accessible(executor)
    journey.shot(executor, "console-case-completed")
    assert world.directory.verify_password("root", NEW_PASSWORD)

    # No page broke its CSP or threw; nothing secret reached an operator's screen.
    assert journey.errors == []
    for page in (desk, executor):
        html = page.content()
        for secret in (code, token, NEW_PASSWORD, PASSWORD):
            assert secret not in html
