"""Serving the subjects' pages. They are static templates: what a page shows
comes from the JSON API, called by its script with the token of the page's
link (read from the URL fragment, never sent here) or the subject's session.
So a page route takes no input and reads nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from custos.web.rendering import render

#: Where the brand link of a subject's page leads (the console's start page is "/").
HOME = "/portal/"
#: Script files of pages that use a security key.
WEBAUTHN = ("webauthn-codec.js",)
#: Script files of the signed-in subject's pages.
SIGNED_IN = (*WEBAUTHN, "portal-me.js")


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    template: str
    title: str
    #: Files under /static/ loaded after portal.js, in this order.
    scripts: tuple[str, ...] = ()


def add_pages(router: APIRouter, pages: tuple[Page, ...]) -> None:
    """One GET route per page on ``router``."""
    for page in pages:
        router.add_api_route(
            page.path,
            _endpoint(page),
            methods=["GET"],
            response_class=HTMLResponse,
            name=page.template.removesuffix(".html").replace("/", "_"),
        )


def _endpoint(page: Page) -> Callable[[Request], HTMLResponse]:
    def show(request: Request) -> HTMLResponse:
        return render(request, page.template, title=page.title, scripts=page.scripts, home=HOME)

    show.__doc__ = f"The page {page.title!r}."
    return show
