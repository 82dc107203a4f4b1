"""Errors on pages answer as pages: a readable message, what to do, and the
stable error id; no JSON. A page that needs a console session redirects to the
sign-in page (htmx requests get ``HX-Redirect``)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from custos.api.errors import Unauthenticated
from custos.web.console.session import sign_in_url
from custos.web.rendering import render

#: Paths served as pages (everything else, /api/ above all, answers JSON).
PAGE_PREFIXES = ("/console/", "/portal/")
#: The subjects' pages that links in emails open (custos.web.portal.link_pages).
LINK_PAGES = frozenset(
    {
        "/recover",
        "/reset",
        "/webauthn",
        "/attest",
        "/challenge",
        "/repudiate",
        "/shared",
        "/service-secret",
        "/temporary-access-pass",
    }
)
PAGE_PATHS = frozenset({"/"}) | LINK_PAGES

TITLES = {
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Not possible now",
    410: "Expired",
    413: "Too large",
    422: "Please check what you entered",
    429: "Too many attempts",
    500: "Something went wrong",
}


#: What a subject can do about an error on one of their pages.
SUBJECT_NEXT_STEP = (
    "If you came here from a link in an email, open the link again exactly as it was sent. "
    "Otherwise start from your account page, or ask your help desk."
)


def is_page(request: Request) -> bool:
    path = request.url.path
    return path in PAGE_PATHS or path.startswith(PAGE_PREFIXES)


def error_page(
    request: Request,
    *,
    status: int,
    error_id: str,
    message: str,
    exc: Exception | None = None,
    headers: dict[str, str] | None = None,
) -> Response | None:
    """The page answering an error, or None when ``request`` is not for a page."""
    if not is_page(request):
        return None
    if isinstance(exc, Unauthenticated):
        target = sign_in_url(request.url.path)
        if request.headers.get("hx-request"):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if request.headers.get("hx-request"):
        # htmx swaps this into the part of the page that asked (base.html lets
        # htmx swap error answers), so the message shows where the action was.
        return render(
            request,
            "_error_fragment.html",
            status_code=status,
            headers=headers,
            message=message,
            error_id=error_id,
        )
    path = request.url.path
    subject_page = path in LINK_PAGES or path.startswith("/portal/")
    return render(
        request,
        "error.html",
        status_code=status,
        headers=headers,
        title=TITLES.get(status, "Something went wrong"),
        message=message,
        error_id=error_id,
        what_to_do=SUBJECT_NEXT_STEP if subject_page else None,
        back_href="/portal/" if subject_page else None,
        back_label="Back to your account page" if subject_page else None,
        home="/portal/" if subject_page else "/",
    )
