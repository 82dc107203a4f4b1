"""tests/accessibility.py finds what it must: a page with serious violations
fails, naming them; a clean page passes; a page under Custos's CSP (no inline
script) is still checked, with the CSP in force."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from accessibility import assert_accessible, violations
from browser_harness import chromium
from playwright.sync_api import Browser

CLEAN = """<!doctype html><html lang="en"><head><title>Clean</title></head>
<body><main><h1>Clean</h1><label for="n">Name</label><input id="n"></main></body></html>"""
BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head>
<body><main><h1>Broken</h1><img src="data:,"><input type="text"></main></body></html>"""


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_serious_violations_fail_the_check_and_are_named(browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.set_content(BROKEN)
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_accessible(page)
    assert "image-alt" in str(failed.value) and "label" in str(failed.value)
    assert {v["id"] for v in violations(page)} >= {"image-alt", "label"}


def test_a_clean_page_passes(browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.set_content(CLEAN)
    assert_accessible(page)
    assert [v for v in violations(page) if v["impact"] in ("serious", "critical")] == []


def test_a_page_under_a_strict_csp_is_checked_with_the_csp_in_force(browser: Browser) -> None:
    page = browser.new_context().new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if m.type == "error" else None)
    page.route(
        "http://custos.test/",
        lambda route: route.fulfill(
            body=BROKEN,
            content_type="text/html",
            headers={"Content-Security-Policy": "default-src 'none'; script-src 'self'"},
        ),
    )
    page.goto("http://custos.test/")
    with pytest.raises(pytest.fail.Exception, match="image-alt"):
        assert_accessible(page)
    # The CSP still holds for the page's own script.
    page.evaluate(
        "() => { const s = document.createElement('script'); "
        "s.textContent = 'window.ran = 1'; document.body.appendChild(s); }"
    )
    assert page.evaluate("() => window.ran") is None
    assert any("Content Security Policy" in text for text in blocked)
