"""Operators in Debian's Chromium against the app served by uvicorn: an admin
disables an operator whose open session then fails (two browser contexts, each
operator signing in through the pages with a password and a TOTP code, pyotp
playing the phone); a new operator arrives by enrolment link and sets up an
authenticator app from the QR page; a security key (Chromium's virtual
authenticator) enrolled and used. Every page visited passes axe-core
(tests/accessibility.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from accessibility import assert_accessible
from browser_harness import add_virtual_authenticator, chromium
from live_server import free_port, serve
from operator_helpers import PASSWORD, events, local_operator, set_password
from playwright.sync_api import Browser, Page, expect

from conftest import World, make_world
from custos.domain.model import Role
from custos.service.console import operator_admin


@dataclass
class Site:
    world: World
    origin: str
    browser: Browser


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    origin = f"http://localhost:{port}"
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin=origin)
    try:
        with serve(world, port), chromium() as browser:
            yield Site(world=world, origin=origin, browser=browser)
    finally:
        world.svc.engine.dispose()


def signed_in_page(site: Site, name: str, otp: pyotp.TOTP) -> Page:
    """A new browser context in which ``name`` signs in through the pages."""
    page = site.browser.new_context().new_page()
    page.goto(f"{site.origin}/")
    expect(page).to_have_url(f"{site.origin}/console/sign-in?next=/")
    assert_accessible(page)
    page.get_by_label("Operator name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("6-digit code from your authenticator app").fill(
        otp.at(site.world.clock.now())
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Signed in as {name}")).to_be_visible()
    assert_accessible(page)
    return page


def test_an_admin_disables_an_operator_whose_open_session_then_fails(site: Site) -> None:
    """R-25: disabling an operator ends their sessions at once; their next click
    leads to the sign-in page."""
    admin_otp = local_operator(site.world, "root", Role.ADMIN)
    bea_otp = local_operator(site.world, "bea", Role.REQUESTER, Role.APPROVER)
    bea = signed_in_page(site, "bea", bea_otp)
    admin = signed_in_page(site, "root", admin_otp)

    admin.goto(f"{site.origin}/console/admin/operators")
    expect(admin.get_by_role("heading", name="Operators")).to_be_visible()
    assert_accessible(admin)
    admin.get_by_role("link", name="bea").click()
    expect(admin.get_by_role("heading", name="Operator bea")).to_be_visible()
    assert_accessible(admin)
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Disable bea").click()
    expect(admin.get_by_role("status")).to_contain_text("Disabled")
    expect(admin.get_by_role("button", name="Enable bea")).to_be_visible()
    assert_accessible(admin)

    bea.get_by_role("link", name="My account").click()
    expect(bea).to_have_url(f"{site.origin}/console/sign-in?next=/console/account")
    expect(bea.get_by_role("heading", name="Sign in to the Custos console")).to_be_visible()
    ended = events(site.world, "auth:operator:session_ended")
    assert ended[-1]["data"]["reason"] == "operator disabled"
    assert ended[-1]["data"]["operator"] == site.world.operators["bea"].id


def test_a_new_operator_arrives_by_enrolment_link_and_sets_up_an_app(site: Site) -> None:
    """The link's token leaves the address bar at once; a password, then the QR
    page (its key as text too), then the console and My account."""
    site.world.operator("root", Role.ADMIN)
    link = operator_admin.enrolment_link(site.world.svc, "cli:local", "root")
    page = site.browser.new_context().new_page()
    page.goto(link)
    expect(page).to_have_url(f"{site.origin}/console/sign-in/link")
    assert_accessible(page)
    page.get_by_role("button", name="Continue to the console").click()
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    assert_accessible(page)
    qr = page.get_by_role("img", name="QR code holding your authenticator secret")
    assert qr.evaluate("(img) => img.complete && img.naturalWidth > 0"), "the QR code shows"
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code from the app").fill(
        pyotp.TOTP(secret).at(site.world.clock.now())
    )
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("heading", name="Signed in as root")).to_be_visible()
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    expect(page.get_by_text("Authenticator app “authenticator app”")).to_be_visible()
    assert secret not in page.content()
    assert_accessible(page)
    page.goto(f"{site.origin}/console/admin/operators/new")
    expect(page.get_by_role("heading", name="Add an operator")).to_be_visible()
    assert_accessible(page)


def test_an_operator_enrols_a_security_key_and_signs_in_with_it(site: Site) -> None:
    """operator-key.js with Chromium's virtual authenticator (CDP)."""
    site.world.operator("kim", Role.EXECUTOR)
    set_password(site.world, "kim")
    page = site.browser.new_context().new_page()
    add_virtual_authenticator(page)

    def password_step() -> None:
        page.goto(f"{site.origin}/console/sign-in")
        page.get_by_label("Operator name").fill("kim")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()

    password_step()
    page.get_by_label("Name of the key").fill("virtual key")
    page.get_by_role("button", name="Register my security key").click()
    expect(page.get_by_role("heading", name="Signed in as kim")).to_be_visible()
    page.get_by_role("button", name="Sign out").first.click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()

    password_step()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Use my security key").click()
    expect(page.get_by_role("heading", name="Signed in as kim")).to_be_visible()
    methods = [e["data"]["method"] for e in events(site.world, "auth:operator:signed_in")]
    assert methods == ["password+webauthn", "password+webauthn"]
