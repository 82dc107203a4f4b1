"""The pages of a recovery and those that links in emails open. Their URLs are
in messages already sent, so they stay as they were: ``/recover``, ``/reset``,
``/webauthn``, ``/attest``, ``/challenge``, ``/repudiate`` and
``/service-secret`` and ``/temporary-access-pass``. The link's token
travels in the URL fragment (``#token=...``), which browsers never send to a
server, and the page's script removes it from the address bar at once."""

from __future__ import annotations

from fastapi import APIRouter

from custos.web.portal.pages import WEBAUTHN, Page, add_pages

PAGES = (
    Page(
        "/recover", "portal/recover.html", "Recover your account", (*WEBAUTHN, "portal-recover.js")
    ),
    Page("/reset", "portal/reset.html", "Choose a new password", ("portal-reset.js",)),
    Page(
        "/portal/recovery-done",
        "portal/recovery_done.html",
        "Your accounts are being updated",
        ("portal-done.js",),
    ),
    Page(
        "/webauthn",
        "portal/webauthn_link.html",
        "Confirm with your security key",
        (*WEBAUTHN, "portal-webauthn-link.js"),
    ),
    Page("/attest", "portal/attest.html", "Confirm a recovery request", ("portal-attest.js",)),
    Page(
        "/challenge", "portal/challenge.html", "Verify for the help desk", ("portal-challenge.js",)
    ),
    Page("/repudiate", "portal/repudiate.html", "This wasn't me", ("portal-repudiate.js",)),
    Page(
        "/shared",
        "portal/shared_credential.html",
        "A shared account's new password",
        ("portal-shared.js",),
    ),
    Page(
        "/service-secret",
        "portal/service_secret.html",
        "Retrieve a service account's new value",
        ("portal-service-secret.js",),
    ),
    Page(
        "/temporary-access-pass",
        "portal/temporary_access_pass.html",
        "Your Temporary Access Pass",
        ("portal-temporary-access-pass.js",),
    ),
)

router = APIRouter(include_in_schema=False)
add_pages(router, PAGES)
