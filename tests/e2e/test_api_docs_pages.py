"""The API's documentation pages, Swagger UI at /api/v1/docs and ReDoc at
/api/v1/redoc, as a browser without internet gets them: the pages, then every
script, style sheet and icon they name, all from this server."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from conftest import World
from custos.api.app import create_app

BASE = "http://testserver"
PAGES = ("/api/v1/docs", "/api/v1/redoc")
#: What each asset must be sent as (X-Content-Type-Options: nosniff is on).
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


class _References(HTMLParser):
    """Every URL a page's <script src>, <link href> and <img src> name, and the
    text of each inline <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("href") if tag == "link" else named.get("src")
        if tag in ("script", "link", "img") and url is not None:
            self.urls.append(url)
        self._in_inline_script = tag == "script" and "src" not in named

    def handle_endtag(self, tag: str) -> None:
        self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts.append(data)


def references(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    parser.close()
    return parser


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = (d.split() for d in header.split(";") if d.strip())
    return {name: values for name, *values in parts}


@pytest.fixture
def api(sqlite_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_world.svc), base_url=BASE) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_docs_page_and_every_asset_it_names_come_from_this_server(
    api: TestClient, path: str
) -> None:
    """The page answers 200 as HTML, and every script, style sheet and icon it
    names is a URL on this server that answers 200 with its content type, so
    the page works with no internet and tells no CDN who reads the docs."""
    page = api.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/v1/openapi.json" in page.text
    urls = references(page.text).urls
    assert any(u.endswith(".js") for u in urls), urls
    for url in urls:
        absolute = urljoin(BASE + path, url)
        assert urlsplit(absolute).netloc == urlsplit(BASE).netloc, f"{url} is off this host"
        asset = api.get(absolute)
        assert asset.status_code == 200, url
        suffix = re.search(r"\.[a-z]+$", urlsplit(absolute).path)
        assert suffix is not None and suffix.group() in CONTENT_TYPES, url
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix.group()]), url
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert asset.content, url


def test_redoc_sidebar_logo_is_served_where_the_bundle_asks(api: TestClient) -> None:
    """The bundled ReDoc loads its sidebar logo from the page's own path plus
    /logo-mini.svg (from script, not named in the HTML): it is there."""
    logo = api.get("/api/v1/redoc/logo-mini.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"].startswith("image/svg+xml")
    assert logo.text.lstrip().startswith("<svg")


@pytest.mark.parametrize("path", PAGES)
def test_docs_page_csp_allows_only_own_scripts_and_no_framing(api: TestClient, path: str) -> None:
    """Scripts come from this origin only; an inline script runs only when the
    policy names the sha256 of its exact text; nothing may frame the page; the
    page itself is not cached, like every /api/v1 answer."""
    page = api.get(path)
    csp = csp_directives(page.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    hashes = [s for s in csp["script-src"] if s.startswith("'sha256-")]
    assert [s for s in csp["script-src"] if s not in hashes] == ["'self'"]
    inline = references(page.text).inline_scripts
    assert sorted(hashes) == sorted(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in inline
    )
    for directive in ("style-src", "img-src", "font-src", "connect-src"):
        assert all(v in ("'self'", "'unsafe-inline'", "data:") for v in csp[directive]), csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["cross-origin-opener-policy"] == "same-origin"


def test_swagger_page_runs_one_hashed_initialiser_without_online_validator(
    api: TestClient,
) -> None:
    """Swagger UI is started by one inline script, allowed by its hash; it turns
    off the online validator, whose badge would send this server's OpenAPI URL
    to validator.swagger.io."""
    page = api.get("/api/v1/docs")
    inline = references(page.text).inline_scripts
    assert len(inline) == 1
    assert '"validatorUrl": null' in inline[0]
    assert "https://" not in page.text and "http://" not in page.text


def test_docs_assets_may_be_cached_and_revalidated(api: TestClient) -> None:
    """The public scripts of the docs are not held to the API's no-store: a
    browser keeps them and asks whether they changed (ETag, 304)."""
    url = "/api/v1/docs-assets/swagger/swagger-ui-bundle.js"
    first = api.get(url)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    again = api.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_docs_pages_are_not_operations_of_the_api(api: TestClient) -> None:
    """The pages and their assets stay out of the OpenAPI document."""
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert [p for p in paths if "docs" in p or "redoc" in p] == []


def test_unknown_docs_asset_has_the_stable_not_found_error(api: TestClient) -> None:
    """A name the assets do not hold, or one climbing out of them to the
    package's Python source, is a 404 with the API's error body."""
    for url in (
        "/api/v1/docs-assets/swagger/nothing.js",
        "/api/v1/docs-assets/swagger/..%2F..%2Fstandalone_docs.py",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["id"] == "not_found"
    # The same climb that stays inside the assets finds its file: the 404 above
    # is the refusal to leave them, not a path the server failed to decode.
    inside = api.get("/api/v1/docs-assets/swagger/..%2Fredoc%2Fredoc.standalone.js")
    assert inside.status_code == 200
