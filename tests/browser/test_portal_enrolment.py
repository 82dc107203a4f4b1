"""The signed-in subject's pages in a real browser: sign-in, an authenticator app
bound from its QR code's secret, saved recovery codes shown once, a contact
confirmed by its code, each change behind a fresh re-authentication (R-27);
and every subject page opened without its link says so and what to do. Every
page passes axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from accessibility import assert_accessible
from playwright.sync_api import expect
from portal_browser import Portal, open_portal
from subject_helpers import PASSWORD, with_password

WAIT = 15_000
CONTACT = "erin@home.example.net"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with open_portal(tmp_path) as site:
        yield site


def sign_in(portal: Portal, subject_id: str) -> None:
    page = portal.page
    portal.open("/portal/sign-in")
    page.get_by_label("User name or email").fill(subject_id)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def next_code(portal: Portal, secret: str) -> str:
    """A code of the next time step (each step is good once)."""
    portal.world.clock.advance(timedelta(seconds=30))
    return pyotp.TOTP(secret).at(portal.world.clock.now())


def reauthenticate(portal: Portal, secret: str) -> None:
    """Answer the page's re-authentication form: password and the app's code."""
    page = portal.page
    form = page.locator("#reauth")
    expect(form).to_be_visible(timeout=WAIT)
    assert_accessible(page)
    portal.shot("portal-reauthenticate")
    form.get_by_label("Password").fill(PASSWORD)
    expect(form.get_by_label("Second factor")).to_have_value("totp")
    form.get_by_label("Code").fill(next_code(portal, secret))
    form.get_by_role("button", name="Confirm").click()
    expect(form).to_be_hidden(timeout=WAIT)


def test_a_subject_binds_an_app_codes_and_a_contact_behind_reauthentication(
    portal: Portal,
) -> None:
    """R-27, R-28, R-12, R-14: the app is bound from the secret shown once with its
    QR code; saved codes are shown once; adding a contact after five minutes asks
    for the password and the new app's code first, then the contact is confirmed
    with the code sent to it. Signing in again asks for the app's code."""
    world, page = portal.world, portal.page
    world.subject("erin")
    with_password(world, "erin")
    sign_in(portal, "erin")
    page.wait_for_url(f"{portal.origin}/portal/account", timeout=WAIT)
    expect(page.locator("#summary-totp")).to_have_text("Not set up", timeout=WAIT)
    assert_accessible(page)

    portal.open("/portal/totp")
    expect(page.locator("#totp-current")).to_contain_text("No authenticator app", timeout=WAIT)
    page.get_by_role("button", name="Set up an authenticator app").click()
    qr = page.get_by_role("img", name="QR code holding your new authenticator key")
    expect(qr).to_be_visible(timeout=WAIT)
    assert str(qr.get_attribute("src")).startswith("data:image/svg+xml")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert_accessible(page)
    portal.shot("portal-totp")
    page.get_by_label("Code the app shows now").fill(next_code(portal, secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#status")).to_contain_text("authenticator app is set up", timeout=WAIT)
    expect(page.locator("#totp-secret")).to_have_text("")

    # with an app bound, a password-only session is too weak to bind more.
    portal.open("/portal/recovery-codes")
    page.get_by_role("button", name="Create new recovery codes").click()
    reauthenticate(portal, secret)
    codes = page.locator("#codes li")
    expect(codes).to_have_count(10, timeout=WAIT)
    assert_accessible(page)
    portal.shot("portal-recovery-codes")
    page.get_by_role("button", name="I saved them").click()
    expect(codes).to_have_count(0)
    expect(page.locator("#status")).to_contain_text("old ones no longer work")

    world.clock.advance(timedelta(minutes=6))  # the sign-in is no longer fresh
    portal.open("/portal/contacts")
    expect(page.locator("#contacts")).to_contain_text("erin@example.org", timeout=WAIT)
    page.get_by_label("Address or number").fill(CONTACT)
    page.get_by_role("button", name="Add and send a code").click()
    reauthenticate(portal, secret)
    expect(page.locator("#status")).to_contain_text(f"We sent a code to {CONTACT}", timeout=WAIT)
    code = portal.emailed_code(CONTACT, "contact_confirmation", r"minutes: (\d{8})")
    page.get_by_label("Code we sent there").fill(code)
    page.locator("#confirm-contact").get_by_role("button", name="Confirm").click()
    expect(page.locator("#status")).to_contain_text(f"{CONTACT} is confirmed", timeout=WAIT)
    expect(page.locator("#contacts tr", has_text=CONTACT)).to_contain_text("Confirmed")
    portal.shot("portal-contacts")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{portal.origin}/portal/sign-in", timeout=WAIT)
    expect(page.locator("#status")).to_contain_text("You are signed out.")
    sign_in(portal, "erin")
    expect(page.get_by_role("heading", name="Second step")).to_be_visible(timeout=WAIT)
    page.get_by_label("Code", exact=True).fill(next_code(portal, secret))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{portal.origin}/portal/account", timeout=WAIT)
    history = page.locator("#history")
    expect(history).to_contain_text("Authenticator app", timeout=WAIT)
    expect(history).to_contain_text("Saved recovery codes")


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/reset", "This page works from the link in your email."),
        ("/webauthn", "This page works from the link in your email."),
        ("/attest", "This page works from the link in your email."),
        ("/challenge", "This page works from the link the help desk sent you."),
        ("/repudiate", "This page works from the link in the email"),
        ("/portal/recovery-done", "right after you choose a new password"),
    ],
)
def test_a_page_opened_without_its_link_says_so_and_what_to_do(
    portal: Portal, path: str, says: str
) -> None:
    portal.open(path)
    message = portal.page.locator("#needs-link")
    expect(message).to_be_visible(timeout=WAIT)
    expect(message).to_contain_text(says)
    portal.shot("portal-no-link" + path.replace("/", "-"))
    assert portal.page.locator("#with-link, #choose").filter(visible=True).count() == 0
    assert_accessible(portal.page)


def test_a_reset_link_that_no_longer_works_says_what_to_do(portal: Portal) -> None:
    """An unknown (used, replaced, mistyped) token: plain words and the way to a
    new recovery, never "Something went wrong"."""
    portal.open("/reset#token=crt_" + "A" * 43)
    status = portal.page.locator("#status .notice")
    expect(status).to_contain_text("This link no longer works", timeout=WAIT)
    expect(status.get_by_role("link", name="Start a new recovery.")).to_have_attribute(
        "href", "/recover"
    )
    assert portal.page.url == f"{portal.origin}/reset"
    assert_accessible(portal.page)


def test_a_signed_in_page_without_a_session_leads_to_the_sign_in_page(portal: Portal) -> None:
    portal.open("/portal/contacts")
    portal.page.wait_for_url(f"{portal.origin}/portal/sign-in", timeout=WAIT)
    expect(portal.page.get_by_role("heading", name="Sign in")).to_be_visible()
