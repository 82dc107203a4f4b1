"""The FastAPI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

import custos
from custos.api import (
    assisted_routes,
    campaign_routes,
    contract,
    docs_pages,
    errors,
    exception_routes,
    fraud_routes,
    hold_routes,
    ledger_routes,
    me_routes,
    metrics_routes,
    operator_routes,
    oversight_routes,
    self_service_routes,
    service_account_routes,
    signal_routes,
    ssf_routes,
    tap_routes,
    webauthn_routes,
)
from custos.api.body_limit import BodyLimit
from custos.api.equal_time import EqualTimeMiddleware
from custos.api.strict_input import refuse_unexpected_input
from custos.service.ports import Services
from custos.web import install as web

#: Unauthenticated endpoints whose answers must not tell accounts apart (R-19).
UNAUTHENTICATED_PREFIXES = ("/api/v1/self-service/",)
UNAUTHENTICATED_PATHS = frozenset({"/api/v1/me/sign-in", "/console/sign-in/password"})
#: HSTS for a public origin served over https: two years, the preload minimum.
HSTS = "max-age=63072000"


def create_app(svc: Services) -> FastAPI:
    app = FastAPI(
        title="Custos",
        version=custos.__version__,
        description="Governed account recovery: cases, proofing, approvals, propagation.",
        openapi_url="/api/v1/openapi.json",
        # Swagger UI and ReDoc are served with local assets (custos.api.docs_pages),
        # not FastAPI's pages, which load theirs from a CDN.
        docs_url=None,
        redoc_url=None,
        # Input an operation does not take (a body, a query parameter) is refused: 422.
        dependencies=[Depends(refuse_unexpected_input)],
    )
    app.state.services = svc
    # Inside the security headers' middleware (added below, so outside this one).
    app.add_middleware(BodyLimit, limit=svc.settings.max_request_bytes)
    errors.install(app)
    contract.install(app)
    docs_pages.install(app)
    app.include_router(self_service_routes.router)
    app.include_router(operator_routes.router)
    app.include_router(fraud_routes.self_service_router)
    app.include_router(fraud_routes.operator_router)
    app.include_router(hold_routes.router)
    app.include_router(ledger_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(signal_routes.signals_router)
    app.include_router(signal_routes.operator_router)
    app.include_router(signal_routes.self_service_router)
    app.include_router(ssf_routes.well_known_router)
    app.include_router(ssf_routes.router)
    app.include_router(exception_routes.router)
    # every unauthenticated self-service answer, and the password step of a
    # subject's sign-in, takes at least the floor.
    app.add_middleware(
        EqualTimeMiddleware,
        floor_s=lambda: svc.settings.enumeration_floor_ms / 1000,
        prefixes=UNAUTHENTICATED_PREFIXES,
        paths=UNAUTHENTICATED_PATHS,
    )
    app.include_router(me_routes.router)
    app.include_router(webauthn_routes.self_service_router)
    app.include_router(webauthn_routes.operator_router)
    app.include_router(assisted_routes.operator_router)
    app.include_router(assisted_routes.public_router)
    app.include_router(service_account_routes.owner_router)
    app.include_router(service_account_routes.public_router)
    app.include_router(service_account_routes.operator_router)
    app.include_router(tap_routes.router)
    app.include_router(campaign_routes.router)
    app.include_router(oversight_routes.router)
    web.install(app)

    https = svc.settings.public_origin.startswith("https://")

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        # Reset links carry a token: never leak it through a Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        # No other site reads these answers as a resource (a script, an image)...
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if response.headers.get("content-type", "").startswith("text/html"):
            # ...nor keeps a handle on a page it opened (ASVS 5 3.4.8): a page
            # shares its browsing context group with this origin's pages only.
            response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.url.path.startswith(f"{docs_pages.ASSETS_PATH}/"):
            # The documentation pages' scripts and styles are public files.
            response.headers["Cache-Control"] = docs_pages.ASSETS_CACHE_CONTROL
        elif request.url.path.startswith("/api/v1/"):
            # Answers name subjects, cases, codes and sessions: no cache keeps them.
            response.headers["Cache-Control"] = "no-store"
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        try:
            with svc.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse(
                errors.body("not_ready", "the database does not answer"), status_code=503
            )
        return JSONResponse({"status": "ready", "policy": svc.policy.hash})

    return app
