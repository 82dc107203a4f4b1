"""The one place where errors become HTTP answers: ``{"error": {"id", "message",
"details"}}`` with a stable id. Handlers raise domain errors; they never build
responses for failures themselves."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from custos.domain import errors as e
from custos.store.case_repository import ConcurrentUpdate

log = structlog.get_logger("custos.api")

STATUS: dict[type[e.DomainError], int] = {
    e.InvalidInput: 422,
    e.NotFound: 404,
    e.NotAuthorized: 403,
    e.OutOfScope: 403,
    e.SeparationOfDuties: 403,
    e.ChannelNotAllowed: 403,
    e.RecoveryBlocked: 409,
    e.ProofingFailed: 400,
    e.CodeVoided: 409,
    e.ProofingIncomplete: 409,
    e.Throttled: 429,
    e.AlreadyDecided: 409,
    e.IllegalTransition: 409,
    e.TokenInvalid: 400,
    e.PasswordRejected: 422,
    e.CaseExpired: 410,
    e.SignatureInvalid: 401,
    e.ExceptionNotActive: 409,
    e.BreakGlassRefused: 403,
}


class Unauthenticated(e.DomainError):
    error_id = "unauthenticated"


def status_for(exc: e.DomainError) -> int:
    if isinstance(exc, Unauthenticated):
        return 401
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def body(error_id: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"id": error_id, "message": message, "details": details or {}}}


def page_for(
    request: Request, status: int, error_id: str, message: str, exc: Exception | None = None
) -> Response | None:
    """The web faces' page for this error (custos.web.page_errors), or None for
    an API request: pages answer errors as pages, the API as JSON."""
    render = getattr(request.app.state, "page_errors", None)
    if render is None:
        return None
    page: Response | None = render(
        request, status=status, error_id=error_id, message=message, exc=exc
    )
    return page


def install(app: FastAPI) -> None:
    @app.exception_handler(e.DomainError)
    async def _domain(request: Request, exc: e.DomainError) -> Response:
        status = status_for(exc)
        page = page_for(request, status, exc.error_id, exc.message, exc)
        if page is not None:
            return page
        headers = {}
        if isinstance(exc, e.Throttled):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        details = {k: v for k, v in exc.details.items() if _jsonable(v)}
        return JSONResponse(
            body(exc.error_id, exc.message, details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "problem": err["msg"]}
            for err in exc.errors()
        ]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
        page = page_for(request, 422, "invalid_input", f"the request is not valid ({listed})")
        if page is not None:
            return page
        # Echo no input values: a password or code may be among them.
        return JSONResponse(
            body("invalid_input", "the request is not valid", {"problems": problems}),
            status_code=422,
        )

    @app.exception_handler(ConcurrentUpdate)
    async def _conflict(request: Request, exc: ConcurrentUpdate) -> Response:
        page = page_for(request, 409, "concurrent_update", "the case changed meanwhile; try again")
        if page is not None:
            return page
        return JSONResponse(
            body("concurrent_update", "the case changed meanwhile; try again"), status_code=409
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            # The framework's only 400: a body it cannot decode (not UTF-8, not
            # JSON). That is invalid input like any other, with the same answer.
            return JSONResponse(
                body(
                    "invalid_input",
                    "the request is not valid",
                    {"problems": [{"field": "(body)", "problem": "cannot be parsed as JSON"}]},
                ),
                status_code=422,
            )
        error_id = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        page = page_for(request, exc.status_code, error_id, str(exc.detail))
        if page is not None:
            return page
        return JSONResponse(body(error_id, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", error_type=type(exc).__name__)
        page = page_for(request, 500, "internal_error", "something went wrong; it was logged")
        if page is not None:
            return page
        return JSONResponse(
            body("internal_error", "something went wrong; it was logged"), status_code=500
        )


def _jsonable(value: object) -> bool:
    return isinstance(value, (str, int, float, bool, list, dict, type(None)))
