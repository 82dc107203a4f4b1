"""The console served by uvicorn with Debian's Chromium in front of it, for the
browser tests: pages of operators signed in by a console session cookie, the
pages' CSP in force, and every console error or unexpected answer of 400 or
more collected and checked when the test ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from browser_harness import chromium
from console_helpers import browser_cookie
from live_server import free_port, serve
from playwright.sync_api import Browser, Page

from conftest import World, make_world

#: Set to a directory to keep screenshots of the pages (development, docs).
SHOTS = os.environ.get("CUSTOS_BROWSER_SHOTS")


@dataclass
class Site:
    world: World
    origin: str
    browser: Browser
    #: Accept every confirm() the pages ask (else the test handles dialogs).
    accept_dialogs: bool = False
    #: What went wrong in any page: console errors (a CSP refusal shows there)
    #: and answers of 400 or more not in ``expected``, checked after each test.
    errors: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)

    def signed_in(self, name: str) -> Page:
        """A new page of a new browser context (the pages' CSP in force) holding
        ``name``'s console session."""
        context = self.browser.new_context(accept_downloads=True)
        context.add_cookies([browser_cookie(self.world, name, self.origin)])  # type: ignore[list-item]
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on(
            "response",
            lambda r: (
                self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.status not in self.expected
                else None
            ),
        )
        if self.accept_dialogs:
            page.on("dialog", lambda d: d.accept())
        return page


def shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@contextmanager
def served_site(tmp_path: Path, *, accept_dialogs: bool = False) -> Iterator[Site]:
    """A world on SQLite served on a free port with Chromium in front of it."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin=origin)
    try:
        with serve(world, port), chromium() as browser:
            site = Site(world=world, origin=origin, browser=browser, accept_dialogs=accept_dialogs)
            yield site
            # The browser's own favicon request is the one 404 the console answers
            # (its console line, "Failed to load resource", is the answer seen above).
            assert [
                e
                for e in site.errors
                if "favicon.ico" not in e and not e.startswith("Failed to load resource")
            ] == []
    finally:
        world.svc.engine.dispose()
