"""The signed-in subject's pages under ``/portal/``: sign-in, an overview, and
one page per kind of method (authenticator app, security keys, saved recovery
codes, contacts). The session is the /me API's Bearer token, which the scripts
keep in the tab's sessionStorage; every change goes through the API's
re-authentication rule (R-27)."""

from __future__ import annotations

from fastapi import APIRouter

from custos.web.portal.pages import SIGNED_IN, Page, add_pages

PAGES = (
    Page("/portal/", "portal/home.html", "Your account"),
    Page("/portal/sign-in", "portal/sign_in.html", "Sign in", (*SIGNED_IN, "portal-sign-in.js")),
    Page(
        "/portal/account", "portal/account.html", "Your methods", (*SIGNED_IN, "portal-account.js")
    ),
    Page("/portal/totp", "portal/totp.html", "Authenticator app", (*SIGNED_IN, "portal-totp.js")),
    Page(
        "/portal/security-keys",
        "portal/security_keys.html",
        "Security keys",
        (*SIGNED_IN, "portal-keys.js"),
    ),
    Page(
        "/portal/recovery-codes",
        "portal/recovery_codes.html",
        "Saved recovery codes",
        (*SIGNED_IN, "portal-codes.js"),
    ),
    Page(
        "/portal/contacts",
        "portal/contacts.html",
        "Recovery contacts",
        (*SIGNED_IN, "portal-contacts.js"),
    ),
)

router = APIRouter(include_in_schema=False)
add_pages(router, PAGES)
