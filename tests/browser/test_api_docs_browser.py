"""The API's documentation pages in a real browser with no internet: Debian's
Chromium against the app served by uvicorn on loopback, every request that
would leave this machine aborted (and recorded, to fail the test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_harness import chromium
from live_server import free_port, serve
from playwright.sync_api import ConsoleMessage, Page, Response, Route, expect

from conftest import World, make_world


@dataclass
class Site:
    origin: str
    page: Page
    #: URLs the page asked for off this server (aborted).
    off_host: list[str] = field(default_factory=list)
    #: Console errors (CSP violations among them) and uncaught page errors.
    errors: list[str] = field(default_factory=list)
    #: This server's answers of 400 and above.
    failed: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        response = self.page.goto(f"{self.origin}{path}")
        assert response is not None and response.status == 200

    def assert_clean(self) -> None:
        assert self.off_host == []
        assert self.errors == []
        assert self.failed == []


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    world: World = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path)
    try:
        with serve(world, port), chromium() as browser:
            context = browser.new_context()
            page = context.new_page()
            site = Site(origin=f"http://127.0.0.1:{port}", page=page)

            def route(route: Route) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    site.off_host.append(route.request.url)
                    route.abort()

            def answered(response: Response) -> None:
                if response.status >= 400:
                    site.failed.append(f"{response.status} {response.url}")

            def console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    site.errors.append(message.text)

            context.route("**/*", route)
            page.on("console", console)
            page.on("response", answered)
            page.on("pageerror", lambda exc: site.errors.append(f"page error: {exc}"))
            yield site
            context.close()
    finally:
        world.svc.engine.dispose()


def test_swagger_ui_renders_the_api_offline_under_its_csp(site: Site) -> None:
    """/api/v1/docs draws every operation from /api/v1/openapi.json with only
    this server's scripts and styles: the cases path shows, no request leaves
    the machine, and the console has no error (no CSP violation)."""
    site.open("/api/v1/docs")
    expect(site.page.locator(".information-container .title")).to_contain_text(
        "Custos", timeout=15_000
    )
    cases = site.page.locator(".opblock-summary-path", has_text="/api/v1/cases").first
    expect(cases).to_be_visible()
    site.assert_clean()


def test_swagger_ui_try_it_out_calls_this_server(site: Site) -> None:
    """ "Try it out" on GET /healthz sends the request to this server (the
    page's connect-src) and shows its answer."""
    site.open("/api/v1/docs")
    health = site.page.locator(".opblock", has_text="/healthz").first
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.locator("button.execute").click()
    expect(health.locator(".live-responses-table")).to_contain_text('"ok"', timeout=15_000)
    site.assert_clean()


def test_redoc_renders_the_api_offline_under_its_csp(site: Site) -> None:
    """/api/v1/redoc shows the API's title and its operations with only this
    server's script, its search worker running, no request leaving the machine
    and no console error (no CSP violation)."""
    site.open("/api/v1/redoc")
    page = site.page
    expect(page.get_by_role("heading", level=1)).to_contain_text("Custos", timeout=15_000)
    expect(page.get_by_role("menuitem", name="cases", exact=True)).to_be_visible()
    # The search runs in a web worker made from a blob: URL (the CSP's worker-src).
    page.get_by_placeholder("Search...").fill("approve")
    found = page.get_by_role("search").get_by_role("menuitem", name="Approve")
    expect(found.first).to_be_visible(timeout=15_000)
    site.assert_clean()
