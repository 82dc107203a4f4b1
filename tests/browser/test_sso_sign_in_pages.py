"""Single sign-on to the console in a real browser: Debian's Chromium goes from
Custos to a real OpenID provider (oidc-provider on another loopback site),
signs in on the provider's page and comes back to the console's start page
showing the operator; Custos's pages pass axe-core (no serious or critical
violation)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from accessibility import assert_accessible
from browser_harness import chromium
from oidc_world import SsoSite
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from custos.domain.model import Role
from custos.store.tables import operators


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _page(browser: Browser) -> Page:
    return browser.new_context().new_page()


def _sign_in_at_provider(page: Page, site: SsoSite, sub: str) -> None:
    page.goto(f"{site.origin}/console/sso/start?next=/")
    # The provider's own sign-in page, on the provider's site.
    expect(page).to_have_url(re.compile(re.escape(site.provider.issuer) + "/interaction/"))
    page.fill("input[name=login]", sub)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def test_an_operator_signs_in_through_the_identity_provider(
    sso_site: SsoSite, browser: Browser
) -> None:
    """R-26: a new console session after the provider's sign-in."""
    sso_site.provider.person("u-1001", "alice", "custos-helpdesk", "custos-approvers")
    page = _page(browser)
    _sign_in_at_provider(page, sso_site, "u-1001")

    expect(page).to_have_url(f"{sso_site.origin}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in as alice")
    expect(page.locator("header .who")).to_have_text("alice")
    expect(page.locator("dl.facts")).to_contain_text("approver, requester")
    expect(page.locator("dl.facts")).to_contain_text("oidc")
    assert_accessible(page)
    cookies = {c["name"]: c for c in page.context.cookies(sso_site.origin)}
    assert cookies["custos_console"]["httpOnly"] and cookies["custos_console"]["sameSite"] == "Lax"
    assert "custos_sso" not in cookies  # the binding is cleared once used


def test_a_person_without_a_mapped_role_sees_why(sso_site: SsoSite, browser: Browser) -> None:
    sso_site.provider.person("u-4004", "carol", "finance-team")
    page = _page(browser)
    _sign_in_at_provider(page, sso_site, "u-4004")

    expect(page).to_have_url(re.compile(re.escape(f"{sso_site.origin}/console/sso/callback?")))
    expect(page.get_by_role("heading", level=1)).to_have_text("No access to the console")
    expect(page.get_by_role("alert")).to_contain_text("Ask an administrator")
    expect(page.locator(".error-id")).to_have_text("Error id: sso_no_role")
    assert_accessible(page)


def test_a_disabled_operator_sees_why(sso_site: SsoSite, browser: Browser) -> None:
    sso_site.world.operator("bob", Role.REQUESTER, scope=("staff",))
    with sso_site.world.svc.engine.begin() as conn:
        conn.execute(update(operators).where(operators.c.name == "bob").values(active=False))
    sso_site.provider.person("u-3003", "bob", "custos-helpdesk")
    page = _page(browser)
    _sign_in_at_provider(page, sso_site, "u-3003")

    expect(page.get_by_role("heading", level=1)).to_have_text("Operator account disabled")
    expect(page.locator(".error-id")).to_have_text("Error id: sso_operator_disabled")
    assert_accessible(page)
