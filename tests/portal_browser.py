"""The subjects' pages in a real browser: the app served by uvicorn on loopback
(``live_server``), Debian's Chromium through Playwright with a virtual security
key (``browser_harness``), the world's manual clock shared by both. A test module
makes its fixture with ``open_portal(tmp_path)``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browser_harness import add_virtual_authenticator, chromium
from live_server import free_port, serve
from playwright.sync_api import Page

from conftest import World, make_world

#: Set to a directory to keep screenshots of the pages (docs/screenshots/ holds some).
SHOTS = os.environ.get("CUSTOS_BROWSER_SHOTS")


@dataclass
class Portal:
    world: World
    origin: str
    page: Page

    def open(self, path: str) -> None:
        """Load ``path`` afresh (as from a mail client or the address bar)."""
        self.page.goto("about:blank")
        response = self.page.goto(f"{self.origin}{path}")
        assert response is not None and response.status == 200, path

    def shot(self, name: str) -> None:
        """A full-page screenshot ``<name>.png`` when CUSTOS_BROWSER_SHOTS is set."""
        if SHOTS:
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)

    def emailed_url(self, to: str, kind: str, path: str) -> str:
        """The ``{origin}{path}#...`` link in the last ``kind`` message to ``to``."""
        mails = self.world.mail(to, kind)
        assert mails, f"no {kind} message reached {to}"
        body = str(mails[-1]["body"])
        start = body.index(f"{self.origin}{path}#")
        return body[start:].split()[0]

    def emailed_code(self, to: str, kind: str, pattern: str) -> str:
        """The code ``pattern`` (one group) finds in the last ``kind`` message to ``to``."""
        mails = self.world.mail(to, kind)
        assert mails, f"no {kind} message reached {to}"
        found = re.search(pattern, str(mails[-1]["body"]))
        assert found, mails[-1]["body"]
        return found.group(1)


@contextmanager
def open_portal(tmp_path: Path, **settings: Any) -> Iterator[Portal]:
    """The app on a free loopback port (with ``settings``), Chromium with a key."""
    port = free_port()
    # WebAuthn needs a secure context and a domain as RP id: http://localhost is both.
    origin = f"http://localhost:{port}"
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin=origin, **settings
    )
    try:
        with serve(world, port), chromium() as browser:
            context = browser.new_context()
            page = context.new_page()
            add_virtual_authenticator(page)
            yield Portal(world=world, origin=origin, page=page)
            context.close()
    finally:
        world.svc.engine.dispose()
