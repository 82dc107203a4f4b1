"""Mounting the web faces on the application: the package's static assets at
``/static/``, the console's and the portal's routes, and pages answering errors
as pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from custos.web.console import (
    account_routes,
    admin_routes,
    approval_routes,
    audit_routes,
    campaign_routes,
    case_actions,
    case_list_routes,
    case_routes,
    enrolment_routes,
    exception_routes,
    helpdesk_routes,
    hold_routes,
    home_routes,
    operator_admin_routes,
    oversight_routes,
    service_account_routes,
    sign_in_routes,
    sso_routes,
)
from custos.web.page_errors import error_page
from custos.web.portal import account_pages, link_pages

STATIC = Path(__file__).parent / "static"

#: The console's routers, in the order they are matched.
CONSOLE_ROUTERS = (
    home_routes.router,
    sso_routes.router,
    admin_routes.router,
    helpdesk_routes.router,
    case_routes.router,
    case_actions.router,
    approval_routes.router,
    case_list_routes.router,
    hold_routes.router,
    audit_routes.router,
    sign_in_routes.router,
    enrolment_routes.router,
    operator_admin_routes.router,
    account_routes.router,
    oversight_routes.router,
    exception_routes.router,
    campaign_routes.router,
    service_account_routes.router,
)
#: The subjects' pages (self-service portal).
PORTAL_ROUTERS = (link_pages.router, account_pages.router)


def install(app: FastAPI) -> None:
    app.state.page_errors = error_page
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in CONSOLE_ROUTERS:
        app.include_router(router)
    for router in PORTAL_ROUTERS:
        app.include_router(router)
