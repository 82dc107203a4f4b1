"""The subjects' pages as served: every one a template under the strict CSP with
no inline script or style, no operator navigation, the scripts it loads served
from the package; the pages that links open carry the words they show when
opened without their link. (Their behaviour in a browser: tests/browser/.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import World
from custos.api.app import create_app
from custos.web.portal import account_pages, link_pages

PAGES = [p.path for p in (*link_pages.PAGES, *account_pages.PAGES)]
#: What each page opened from a link says when the link is missing.
NO_LINK = {
    "/reset": "This page works from the link in your email.",
    "/webauthn": "This page works from the link in your email.",
    "/attest": "This page works from the link in your email.",
    "/challenge": "This page works from the link the help desk sent you.",
    "/repudiate": "This page works from the link in the email that told you about a recovery",
    "/service-secret": "This page works from the link in the email about the rotation",
    "/portal/recovery-done": "right after you choose a new password from the link in your email",
    "/shared": "This page works from the link in your email.",
}


@pytest.fixture
def api(sqlite_world: World) -> Iterator[TestClient]:
    """The pages read no store: one backend is enough."""
    with TestClient(create_app(sqlite_world.svc)) as client:
        yield client


def test_the_pages_keep_the_addresses_links_already_point_at() -> None:
    """Messages already sent link to these: they must keep answering."""
    assert {"/recover", "/reset", "/webauthn", "/attest", "/challenge", "/repudiate"} <= set(PAGES)


@pytest.mark.parametrize("path", PAGES)
def test_every_subject_page_is_served_under_the_strict_policy(api: TestClient, path: str) -> None:
    """R-17: no Referer, nothing cached; the CSP allows scripts and styles only from
    /static/, so every script is a file and no element carries style or handlers."""
    answer = api.get(path)
    assert answer.status_code == 200, answer.text
    headers = answer.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cross-origin-opener-policy"] == "same-origin"  # ASVS 5 3.4.8
    assert headers["cross-origin-resource-policy"] == "same-origin"
    html = answer.text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts and all("src=" in attrs and body == "" for attrs, body in scripts)
    assert re.search(r"\son[a-z]+=", html) is None
    assert re.search(r"\sstyle=", html) is None and "<style" not in html
    # A subject sees no console: no operator menu, the brand leads to their page.
    assert 'aria-label="Console"' not in html and "/console/" not in html
    assert '<a class="brand" href="/portal/">' in html
    assert '<link rel="stylesheet" href="/static/custos.css">' in html
    for src in re.findall(r'<script src="([^"]+)"', html):
        served = api.get(src)
        assert served.status_code == 200 and "javascript" in served.headers["content-type"], src


@pytest.mark.parametrize("path", sorted(NO_LINK))
def test_a_link_page_says_what_to_do_without_its_link(api: TestClient, path: str) -> None:
    """The words are on the page, hidden until its script finds no link in the
    fragment (tests/browser/test_portal_enrolment.py shows them in a browser)."""
    html = api.get(path).text
    block = re.search(r'<div id="needs-link" class="notice warn" hidden>(.*?)</div>', html, re.S)
    assert block, path
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", block.group(1)))
    assert NO_LINK[path] in text
    assert "Something went wrong" not in html


def test_the_reset_page_links_to_a_new_recovery(api: TestClient) -> None:
    html = api.get("/reset").text
    assert '<a href="/recover">Recover your account</a>' in html


def test_the_scripts_read_tokens_from_the_fragment_and_strip_them(api: TestClient) -> None:
    """R-17: the token never reaches a server through the URL: it is read from
    location.hash and the address is replaced without it."""
    shared = api.get("/static/portal.js").text
    assert (
        "location.hash" in shared and 'history.replaceState(null, "", location.pathname)' in shared
    )
    for script, name in [
        ("portal-reset.js", 'fragment("token")'),
        ("portal-attest.js", 'fragment("token")'),
        ("portal-challenge.js", 'fragment("token")'),
        ("portal-webauthn-link.js", 'fragment("link")'),
    ]:
        assert name in api.get(f"/static/{script}").text, script
    # The one-button link pages go through portal.linkAction, which reads the
    # token from the fragment itself.
    link_action = shared[shared.index("function linkAction") :]
    assert 'fragment("token")' in link_action[: link_action.index("\n  }\n")]
    for script in ("portal-repudiate.js", "portal-service-secret.js", "portal-shared.js"):
        assert "portal.linkAction(" in api.get(f"/static/{script}").text, script


def test_the_subject_session_lives_in_session_storage_not_a_cookie(api: TestClient) -> None:
    """The /me API takes a Bearer token; the pages keep it in the tab's
    sessionStorage and never write a cookie."""
    for script in ("portal.js", "portal-me.js", "portal-sign-in.js"):
        text = api.get(f"/static/{script}").text
        assert "document.cookie" not in text and "localStorage" not in text
    assert "sessionStorage.setItem(SESSION, token)" in api.get("/static/portal.js").text


def test_an_error_on_a_subject_page_answers_as_a_page_with_a_next_step(api: TestClient) -> None:
    """A link page opened with something extra in its address: a page in words,
    with what to do, and the way back to the subject's own start page."""
    answer = api.get("/reset?utm_source=mail")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "open the link again exactly as it was sent" in answer.text
    assert '<a href="/portal/">Back to your account page</a>' in answer.text
    missing = api.get("/portal/no-such-page")
    assert missing.status_code == 404 and "Back to your account page" in missing.text
