"""The one place where errors become HTTP answers: ``{"error": {"id", "message",
"details"}}`` with a stable id. Handlers raise domain errors; they never build
responses for failures themselves."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def install(app: FastAPI) -> None:
    @app.exception_handler(e.DomainError)
    async def _domain(_: Request, exc: e.DomainError) -> JSONResponse:
        headers = {}
        if isinstance(exc, e.Throttled):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        details = {k: v for k, v in exc.details.items() if _jsonable(v)}
        return JSONResponse(
            body(exc.error_id, exc.message, details), status_code=status_for(exc), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"] if p != "body"), "problem": err["msg"]}
            for err in exc.errors()
        ]
        # Echo no input values: a password or code may be among them.
        return JSONResponse(
            body("invalid_input", "the request is not valid", {"problems": problems}),
            status_code=422,
        )

    @app.exception_handler(ConcurrentUpdate)
    async def _conflict(_: Request, exc: ConcurrentUpdate) -> JSONResponse:
        return JSONResponse(
            body("concurrent_update", "the case changed meanwhile; try again"), status_code=409
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
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
        return JSONResponse(body(error_id, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", error_type=type(exc).__name__)
        return JSONResponse(
            body("internal_error", "something went wrong; it was logged"), status_code=500
        )


def _jsonable(value: object) -> bool:
    return isinstance(value, (str, int, float, bool, list, dict, type(None)))
