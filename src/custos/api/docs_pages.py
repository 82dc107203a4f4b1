"""The API's documentation pages: Swagger UI at ``/api/v1/docs`` and ReDoc at
``/api/v1/redoc``, both reading ``/api/v1/openapi.json``. Every script, style
sheet and image they load is served by Custos itself from the assets that the
``fastapi-standalone-docs`` package ships (Swagger UI, ReDoc and their licences),
so the pages work without internet and send nothing to a third party.

Each page carries its own Content-Security-Policy: scripts from this origin only,
plus Swagger UI's inline initialiser allowed by the sha256 of its exact text."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_PATH = "/api/v1/docs"
REDOC_PATH = "/api/v1/redoc"
#: Where the UIs' scripts, style sheets, favicon and licences are served.
ASSETS_PATH = "/api/v1/docs-assets"
#: The package's folders: swagger/ (swagger-ui-dist, with its Apache-2.0 LICENSE),
#: redoc/ (ReDoc's standalone bundle, with the licence notices of what it holds)
#: and fastapi/ (FastAPI's favicon, with its MIT LICENSE).
ASSETS_DIR = Path(str(files("fastapi_standalone_docs").joinpath("static")))
#: The bundled ReDoc asks for its sidebar logo at the page's path + this name.
REDOC_LOGO = "logo-mini.svg"
#: Static assets are not secret: a browser may keep them, but asks each time
#: whether they changed (ETag), so an upgrade shows at once.
ASSETS_CACHE_CONTROL = "no-cache"

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: bytes) -> list[str]:
    """The CSP source expression (``'sha256-...'``) of each inline ``<script>``
    body in ``html``, hashed over its exact bytes as the browser does."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def page_csp(*, script_hashes: list[str], inline_styles: bool, blob_workers: bool) -> str:
    """The Content-Security-Policy of a documentation page: everything from this
    origin, images also as ``data:`` URLs (both UIs draw their icons so), inline
    scripts only by ``script_hashes``, inline styles only if ``inline_styles``,
    web workers only from ``blob:`` URLs and only if ``blob_workers``; no
    framing, no plugins, no base or form targets."""
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(["'self'", *script_hashes]),
            "worker-src " + ("blob:" if blob_workers else "'none'"),
            f"style-src {styles}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@dataclass(frozen=True)
class DocsPage:
    """A documentation page as sent: its HTML and its Content-Security-Policy."""

    html: bytes
    csp: str

    def response(self) -> HTMLResponse:
        return HTMLResponse(self.html, headers={"Content-Security-Policy": self.csp})


def swagger_page(openapi_url: str, title: str) -> DocsPage:
    """Swagger UI for ``openapi_url`` with local assets. Its one inline script
    (FastAPI's initialiser, our parameters in it) is allowed by its hash; its
    styles come from its style sheet alone (React sets element styles through the
    DOM, which style-src does not govern), so no inline style is allowed."""
    html = bytes(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/fastapi/favicon.png",
            # No online validator. FastAPI's BaseLayout shows no validator badge
            # today; should a layout show one, it would load an image from
            # validator.swagger.io naming this server's OpenAPI URL.
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    )
    csp = page_csp(
        script_hashes=inline_script_hashes(html), inline_styles=False, blob_workers=False
    )
    return DocsPage(html=html, csp=csp)


def redoc_page(openapi_url: str, title: str) -> DocsPage:
    """ReDoc for ``openapi_url`` with local assets and no web fonts. ReDoc styles
    itself with styled-components, which writes <style> elements at run time
    (FastAPI's page has one of its own too): this page must allow inline styles,
    never inline scripts. Its search runs in a web worker made from a ``blob:``
    URL by its own script."""
    html = bytes(
        get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS_PATH}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/fastapi/favicon.png",
            with_google_fonts=False,
        ).body
    )
    csp = page_csp(script_hashes=inline_script_hashes(html), inline_styles=True, blob_workers=True)
    return DocsPage(html=html, csp=csp)


def install(app: FastAPI) -> None:
    """Serve both pages and their assets on ``app``, out of the OpenAPI document.
    The pages are built once: they depend only on ``app``'s OpenAPI URL and title."""
    assert app.openapi_url, "the documentation pages need the OpenAPI document"
    title = f"{app.title} API"
    swagger = swagger_page(app.openapi_url, f"{title} - Swagger UI")
    redoc = redoc_page(app.openapi_url, f"{title} - ReDoc")
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(SWAGGER_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return swagger.response()

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc_ui() -> HTMLResponse:
        return redoc.response()

    @app.get(f"{REDOC_PATH}/{REDOC_LOGO}", include_in_schema=False)
    def redoc_logo() -> FileResponse:
        return FileResponse(ASSETS_DIR / "redoc" / REDOC_LOGO, media_type="image/svg+xml")
