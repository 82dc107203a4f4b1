"""Self-service recovery in a real browser, from the user name to the last page
naming the systems that received the new password: with an authenticator app
(TOTP), with a saved recovery code, and with a security key (a virtual
authenticator) registered on the portal's own page. The worker runs in the
test (``world.drain()``), as the deployed worker would. Every page passes axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from accessibility import assert_accessible
from playwright.sync_api import expect
from portal_browser import Portal, open_portal
from subject_helpers import PASSWORD, with_password

from custos.policy.loader import DEFAULT_POLICY_PATH

NEW_PASSWORD = "quartz-lantern-meadow-7-orbit"
WAIT = 15_000


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with open_portal(tmp_path) as site:
        yield site


def start_recovery(portal: Portal, identifier: str) -> None:
    portal.open("/recover")
    assert_accessible(portal.page)
    portal.page.get_by_label("User name or email").fill(identifier)
    portal.page.get_by_role("button", name="Continue").click()
    expect(portal.page.get_by_role("heading", name="Prove it is you")).to_be_visible(timeout=WAIT)


def offered(portal: Portal) -> list[str]:
    """The method buttons the page shows now."""
    choices = portal.page.locator("#choices li:visible button")
    return [text.strip() for text in choices.all_inner_texts()]


def expect_link_sent(portal: Portal) -> None:
    expect(portal.page.locator("#status")).to_contain_text("Check your email", timeout=WAIT)
    expect(portal.page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_accessible(portal.page)


def choose_password_and_see_systems(portal: Portal, subject_id: str) -> None:
    """Open the emailed reset link, get the rules' verdict while typing, set the
    password, and watch the last page name the system once the worker ran."""
    page = portal.page
    portal.open(
        portal.emailed_url(f"{subject_id}@example.org", "reset_link", "/reset")[
            len(portal.origin) :
        ]
    )
    # The token left the address bar and the history at once.
    assert page.url == f"{portal.origin}/reset"
    form = page.locator("#choose")
    expect(form).to_be_visible(timeout=WAIT)
    assert_accessible(page)
    minimum = int(page.locator("#min-length").inner_text())
    # A word of the subject's email address, too short and easily guessed: the
    # server's rules say all three while the subject types.
    page.get_by_label("New password").fill("example")
    problems = page.locator("#problems")
    expect(problems).to_contain_text(f"at least {minimum} characters", timeout=WAIT)
    expect(problems).to_contain_text("must not contain your name", timeout=WAIT)
    expect(problems).to_contain_text("too easy to guess", timeout=WAIT)
    expect(page.locator("#strength-text")).to_have_text("very weak")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    expect(page.locator("#problems")).to_contain_text("It meets the rules.", timeout=WAIT)
    expect(page.locator("#length")).to_contain_text("long enough")
    page.get_by_label("Repeat it").fill(NEW_PASSWORD)
    expect(page.locator("#match")).to_have_text("The two passwords match.")
    portal.shot(f"portal-reset-{subject_id}")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(f"{portal.origin}/portal/recovery-done", timeout=WAIT)
    expect(page.locator("#systems-rows")).to_contain_text("directory", timeout=WAIT)
    portal.world.drain()
    status = page.locator("#status .notice")
    expect(status).to_contain_text(
        "your new password is set on all 1 of your systems", timeout=WAIT
    )
    expect(status).to_have_class("notice ok")
    row = page.locator("#systems-rows tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(subject_id)
    expect(row).to_contain_text("Updated")
    assert_accessible(page)
    portal.shot(f"portal-recovery-done-{subject_id}")
    assert portal.world.directory.verify_password(subject_id, NEW_PASSWORD)


def test_recovery_with_an_authenticator_app_ends_on_the_updated_systems(portal: Portal) -> None:
    """Every method the self-service tiers accept is offered, the same for any
    account (R-19); the app's code proves the subject, the emailed link sets the
    password, and the last page names the system updated (R-13, R-17)."""
    portal.world.subject("bob", with_totp=True)
    start_recovery(portal, "bob")
    assert offered(portal) == [
        "Use my security key",
        "Use my authenticator app",
        "Use a saved recovery code",
        "Email me a code",
    ]
    portal.shot("portal-recover-methods")
    portal.page.get_by_role("button", name="Use my authenticator app").click()
    code = pyotp.TOTP(portal.world.totp_secrets["bob"]).at(portal.world.clock.now())
    portal.page.get_by_label("Code from your authenticator app").fill(code)
    portal.page.get_by_role("button", name="Verify").click()
    expect_link_sent(portal)
    choose_password_and_see_systems(portal, "bob")


def test_recovery_with_a_saved_code_shows_its_replacement_once(portal: Portal) -> None:
    """A saved recovery code proves the subject; the page shows the code that
    replaces it (R-12), then the reset completes on every system."""
    portal.world.subject("carol", codes=3)
    start_recovery(portal, "carol")
    portal.page.get_by_role("button", name="Use a saved recovery code").click()
    used = portal.world.recovery_codes["carol"][0]
    portal.page.get_by_label("Saved recovery code", exact=True).fill(used)
    portal.page.get_by_role("button", name="Verify").click()
    expect_link_sent(portal)
    replacement = portal.page.locator("#replacement-code")
    expect(replacement).to_be_visible()
    portal.shot("portal-recover-saved-code")
    assert replacement.inner_text().strip() not in ("", used)
    choose_password_and_see_systems(portal, "carol")


def test_recovery_with_a_security_key_registered_on_the_portal(portal: Portal) -> None:
    """The subject registers the browser's key on the portal, then recovers with
    it. The key is new (a risk signal), so a second proof is asked for, and only
    the methods this subject has are offered then: the emailed code."""
    world, page = portal.world, portal.page
    world.subject("dave")
    with_password(world, "dave")
    portal.open("/portal/sign-in")
    page.get_by_label("User name or email").fill("dave")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{portal.origin}/portal/account", timeout=WAIT)
    portal.open("/portal/security-keys")
    page.get_by_label("Name for this key").fill("virtual key")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.locator("#status")).to_contain_text("security key is registered", timeout=WAIT)
    expect(page.locator("#keys")).to_contain_text("virtual key")

    start_recovery(portal, "dave")
    page.get_by_role("button", name="Use my security key").click()
    expect(page.locator("#status")).to_contain_text("One more proof is needed", timeout=WAIT)
    assert offered(portal) == ["Email me a code"]
    portal.shot("portal-recover-one-more-proof")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.locator("#status")).to_contain_text("a code is on its way", timeout=WAIT)
    page.get_by_label("Code from the email").fill(world.last_code("dave"))
    page.get_by_role("button", name="Verify").click()
    expect_link_sent(portal)
    choose_password_and_see_systems(portal, "dave")


def test_a_tier_that_issues_a_temporary_password_shows_it_once(tmp_path: Path) -> None:
    """R-17: on a ``temp_password`` tier the reset page chooses nothing: the
    subject asks for the temporary password, sees it once, and the last page
    names the system it was set on (to be changed at first sign-in)."""
    text = DEFAULT_POLICY_PATH.read_text()
    at = text.index("- name: standard")
    text = text[:at] + text[at:].replace("action: reset_token", "action: temp_password", 1)
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    with open_portal(tmp_path, policy_file=policy) as portal:
        page = portal.page
        portal.world.subject("bob")
        start_recovery(portal, "bob")
        page.get_by_role("button", name="Email me a code").click()
        expect(page.locator("#status")).to_contain_text("a code is on its way", timeout=WAIT)
        page.get_by_label("Code from the email").fill(portal.world.last_code("bob"))
        page.get_by_role("button", name="Verify").click()
        expect_link_sent(portal)
        url = portal.emailed_url("bob@example.org", "reset_link", "/reset")
        portal.open(url[len(portal.origin) :])
        expect(page.get_by_role("heading", name="Get a temporary password")).to_be_visible(
            timeout=WAIT
        )
        expect(page.locator("#choose")).to_be_hidden()
        assert_accessible(page)
        page.get_by_role("button", name="Show my temporary password").click()
        shown = page.locator("#temporary-password")
        expect(shown).not_to_be_empty(timeout=WAIT)
        temporary = shown.inner_text().strip()
        assert len(temporary) >= 15
        assert_accessible(page)
        page.get_by_role("link", name="I noted it: show the update of my accounts").click()
        page.wait_for_url(f"{portal.origin}/portal/recovery-done", timeout=WAIT)
        portal.world.drain()
        expect(page.locator("#systems-rows")).to_contain_text("Updated", timeout=WAIT)
        assert portal.world.directory.verify_password("bob", temporary)
