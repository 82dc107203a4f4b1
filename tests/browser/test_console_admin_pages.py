"""An admin in a real browser (Debian's Chromium, the app served by uvicorn):
from the administration page to the policy, then to the connected systems,
pressing Test on the built-in directory; on the policy page, a candidate policy
pasted and uploaded and simulated over the recorded cases. htmx swaps each
result in under the pages' strict CSP. Every page passes axe-core (no serious
or critical finding)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from accessibility import assert_accessible
from browser_harness import chromium
from console_helpers import browser_cookie
from live_server import free_port, serve
from playwright.sync_api import Page, expect
from simulation_world import LOOSER, STRICTER, seed_cases

from conftest import World, make_world
from custos.domain.model import Role

#: Set to a directory to keep screenshots of the pages (development only).
SHOTS = os.environ.get("CUSTOS_BROWSER_SHOTS")


@dataclass
class Site:
    world: World
    origin: str
    page: Page
    #: Paths whose 4xx answers the test expects (a refused form).
    refusals: set[str] = field(default_factory=set)

    def shot(self, name: str) -> None:
        if SHOTS:
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin=origin)
    world.operator("margaret", Role.ADMIN)
    try:
        with serve(world, port), chromium() as browser:
            context = browser.new_context()
            context.add_cookies([browser_cookie(world, "margaret", origin)])  # type: ignore[list-item]
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            failed: list[str] = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            site = Site(world=world, origin=origin, page=page)
            yield site
            # A CSP refusal or a script error shows in the browser's console; the
            # browser's own favicon request is the one 404 the console answers.
            # An expected refusal is also an htmx console line ("Response Status
            # Error Code 422 from PATH").
            expected = {f"{origin}{path}" for path in site.refusals}
            assert [u for u in failed if not u.endswith("/favicon.ico") and u not in expected] == []
            assert [
                e
                for e in errors
                if not e.startswith("Failed to load resource")
                and not any(f" from {path}," in e for path in site.refusals)
            ] == []
            context.close()
    finally:
        world.svc.engine.dispose()


def test_an_admin_reads_the_policy_and_tests_the_directory(site: Site) -> None:
    page = site.page
    page.goto(f"{site.origin}/console/admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Administration")
    assert_accessible(page)

    page.get_by_role("link", name="Recovery policy").click()
    expect(page).to_have_url(f"{site.origin}/console/admin/policy")
    expect(page.get_by_text(site.world.svc.policy.hash).first).to_be_visible()
    expect(page.get_by_text("The file on disk is the policy Custos runs")).to_be_visible()
    expect(page.get_by_role("heading", name="3. privileged")).to_be_visible()
    assert_accessible(page)
    site.shot("console-admin-policy")

    page.get_by_role("link", name="Administration").click()
    page.get_by_role("link", name="Connected systems").click()
    expect(page).to_have_url(f"{site.origin}/console/admin/connectors")
    expect(page.get_by_text("set_password: set a password")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name="Test directory").click()
    result = page.locator("#probe-1")
    expect(result).to_contain_text("directory: every check passed", timeout=15_000)
    expect(result.get_by_role("table")).to_contain_text("database reachable")
    # htmx swapped the fragment in: still the same page, not a reload.
    expect(page).to_have_url(f"{site.origin}/console/admin/connectors")
    assert_accessible(page)
    site.shot("console-admin-connectors")


def test_an_admin_simulates_a_candidate_policy_over_the_recorded_cases(
    site: Site, tmp_path: Path
) -> None:
    opened = seed_cases(site.world)
    page = site.page
    # Seeding moved the clock 40 days on: past the session's lifetime, so a new one.
    page.context.add_cookies([browser_cookie(site.world, "margaret", site.origin)])  # type: ignore[list-item]
    page.goto(f"{site.origin}/console/admin/policy")
    expect(page.get_by_role("heading", name="Try a candidate policy")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Or paste the candidate policy").fill(STRICTER)
    page.get_by_label("Since").fill("30d")
    page.get_by_role("button", name="Simulate").click()
    result = page.locator("#simulation")
    expect(result).to_contain_text("5 cases opened from", timeout=15_000)
    changed = result.get_by_role("table", name="Cases the candidate changes (2)")
    expect(changed.get_by_role("row", name=re.compile(opened["alice"]))).to_contain_text(
        "factors 1 → 2"
    )
    expect(changed.get_by_role("row", name=re.compile(opened["bob"]))).to_contain_text(
        "would be refused"
    )
    expect(page).to_have_url(f"{site.origin}/console/admin/policy")  # swapped in, no reload
    result.get_by_text("3 unchanged cases").click()
    expect(
        result.get_by_role("table", name="Cases the candidate treats as recorded")
    ).to_be_visible()
    assert_accessible(page)
    site.shot("console-admin-policy-simulation")

    # An invalid candidate, uploaded: its problems by line, nothing replayed.
    site.refusals.add("/console/admin/policy/simulate")
    broken = tmp_path / "broken.yaml"
    broken.write_text(LOOSER.replace("  case_ttl: 24h", "  case_ttl: 24h\n  colour: blue"))
    page.get_by_label("Or paste the candidate policy").fill("")
    page.get_by_label("Candidate policy file").set_input_files(str(broken))
    page.get_by_role("button", name="Simulate").click()
    expect(result).to_contain_text("Not simulated: 1 problem in broken.yaml", timeout=15_000)
    expect(result.get_by_role("table")).to_contain_text("unknown key 'colour'")
    assert_accessible(page)

    # The same file, fixed: the held subject changes tier, held all the same.
    fixed = tmp_path / "looser.yaml"
    fixed.write_text(LOOSER)
    page.get_by_label("Candidate policy file").set_input_files(str(fixed))
    page.get_by_role("button", name="Simulate").click()
    expect(result).to_contain_text("replayed under looser.yaml", timeout=15_000)
    expect(result.get_by_role("row", name=re.compile(opened["dave"]))).to_contain_text(
        "tier frozen → standard"
    )
    assert_accessible(page)
