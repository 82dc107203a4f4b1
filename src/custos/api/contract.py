"""The API contract the OpenAPI document publishes: one error model for every
failure (``{"error": {"id", "message", "details"}}``, see ``api/errors.py``) and,
for each operation, the statuses it can answer.

The statuses are derived, not written per route: an operation's *kind* (who
calls it and how it authenticates, matched on its path) gives the base set,
rules add what every operation or its shape implies (422 for input it
does not take or cannot read, 413 for a body too large to read, 404 for a
case named in the path), and
:data:`EXTRAS` adds what the services behind a route raise beyond that.
``tests/e2e/test_api_schema.py`` replays the document against the application
and fails on any status or body it does not list: a route whose services
learn a new error must add it here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

ERROR_SCHEMA = "Error"
OPERATOR_SCHEME = "operatorToken"
SUBJECT_SCHEME = "subjectSession"


class ErrorDetail(BaseModel):
    id: str = Field(description="Stable error id, e.g. `invalid_input`, `throttled`.")
    message: str = Field(description="A sentence for people; never holds a secret.")
    details: dict[str, Any] = Field(
        description="Machine-readable context; `problems` lists invalid fields."
    )


class ErrorBody(BaseModel):
    """Every failure of the API."""

    error: ErrorDetail


#: What each status means here, with the error ids it carries.
MEANING: dict[int, str] = {
    400: "Evidence or link refused (`proofing_failed`, `token_invalid`, `token_expired`).",
    401: "No valid credentials (`unauthenticated`; `signature_invalid` for signed requests).",
    403: "Not allowed (`not_authorized`, `reauthentication_required`, `out_of_scope`, "
    "`sod_violation`, `hold_lift_by_setter`, `channel_not_allowed`, "
    "`exception_approval_refused`, `break_glass_refused`).",
    404: "Not found (`not_found`, `no_signed_head`, `stream_not_found`).",
    409: "Conflicts with the current state (`already_decided`, `case_illegal_transition`, "
    "`recovery_blocked`, `sms_blocked`, `proofing_incomplete`, `concurrent_update`, "
    "`code_voided`, `stream_disabled`, `hold_not_standing`, `exception_not_active`).",
    410: "The case expired (`case_expired`).",
    422: "Invalid request (`invalid_input` with `details.problems`, `password_rejected`, "
    "`entry_not_covered`); also a body sent to an operation that takes none.",
    413: "The request body is larger than the server takes (`request_too_large`; "
    "`max_request_bytes`, 1 MiB by default).",
    429: "Too many attempts (`throttled`); `Retry-After` says when to try again.",
    503: "Not ready (`not_ready`): the database does not answer.",
}


@dataclass(frozen=True)
class Kind:
    """A family of operations: who calls them, and what any of them may answer."""

    name: str
    matches: Callable[[str, str], bool]
    statuses: tuple[int, ...]
    security: str | None = None


def _prefix(*prefixes: str) -> Callable[[str, str], bool]:
    return lambda _method, path: path.startswith(prefixes)


def _exact(*paths: str) -> Callable[[str, str], bool]:
    return lambda _method, path: path in paths


#: First match wins, so the narrow kinds come first.
KINDS: tuple[Kind, ...] = (
    Kind("health", _exact("/healthz", "/readyz"), ()),
    Kind("public key", _exact("/api/v1/ledger/keys"), ()),
    Kind("transmitter metadata", _exact("/.well-known/ssf-configuration", "/api/v1/ssf/jwks"), ()),
    Kind("shared-signals admin", _prefix("/api/v1/ssf/"), (401, 403), OPERATOR_SCHEME),
    Kind("subject sign-in", _exact("/api/v1/me/sign-in"), (401, 429)),
    Kind("operator", _exact("/api/v1/me"), (401,), OPERATOR_SCHEME),
    Kind("subject", _prefix("/api/v1/me/"), (401, 403), SUBJECT_SCHEME),
    Kind(
        "operator",
        _prefix(
            "/api/v1/cases",
            "/api/v1/ledger/",
            "/api/v1/holds",
            "/api/v1/campaigns",
            "/api/v1/exceptions",
        ),
        (401,),
        OPERATOR_SCHEME,
    ),
    Kind("self-service", _prefix("/api/v1/self-service/"), ()),
    # Attesters and subjects answering with the token of a link: a bad one is 400.
    Kind("link holder", _prefix("/api/v1/attestations/", "/api/v1/challenges/"), (400,)),
    Kind("signed webhook", _prefix("/api/v1/signals/"), (401,)),
    # Service accounts (docs/service-accounts.md): HR and audit reads by operators,
    # the owner's one-time link (a bad, used or lapsed one is 400).
    Kind(
        "operator",
        _prefix("/api/v1/owners/", "/api/v1/service-accounts/"),
        (401, 403),
        OPERATOR_SCHEME,
    ),
    Kind("link holder", _exact("/api/v1/service-secret"), (400,)),
    # A reissue's Temporary Access Pass: the subject's one-time link (bad, used, lapsed: 400).
    Kind("link holder", _exact("/api/v1/temporary-access-pass"), (400,)),
    Kind("operator", _prefix("/api/v1/oversight/"), (401,), OPERATOR_SCHEME),
)

_CASE = "/api/v1/cases/{case_id}"
#: What a change to one case may meet: a role or duty refused (403), the case in
#: another state or changed meanwhile (409), the case expired (410). A case
#: outside the operator's scope answers 404, word for word as an unknown case
#: (the path rule), never 403 or 409: scope reveals nothing (docs/oversight.md).
_CASE_CHANGE = (403, 409, 410)

#: Statuses beyond the kind and the rules, from the services each route calls.
EXTRAS: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/api/v1/cases"): (403, 404, 409),
    ("POST", f"{_CASE}/proofs"): (*_CASE_CHANGE, 400, 429),
    ("POST", f"{_CASE}/email-code"): (*_CASE_CHANGE, 429),
    ("POST", f"{_CASE}/sms-code"): (*_CASE_CHANGE, 429),
    ("POST", f"{_CASE}/approve"): _CASE_CHANGE,
    ("POST", f"{_CASE}/deny"): _CASE_CHANGE,
    ("POST", f"{_CASE}/execute"): _CASE_CHANGE,
    ("POST", f"{_CASE}/cancel"): _CASE_CHANGE,
    ("POST", f"{_CASE}/retry"): _CASE_CHANGE,
    ("POST", f"{_CASE}/break-glass"): _CASE_CHANGE,
    ("POST", f"{_CASE}/flag-fraud"): _CASE_CHANGE,
    ("POST", f"{_CASE}/webauthn-link"): _CASE_CHANGE,
    ("POST", f"{_CASE}/attestation"): _CASE_CHANGE,
    ("POST", f"{_CASE}/challenge"): (*_CASE_CHANGE, 429),
    ("POST", f"{_CASE}/evidence"): (403,),
    ("POST", "/api/v1/holds"): (403, 404),
    ("GET", "/api/v1/holds"): (404,),
    ("GET", "/api/v1/holds/{hold_id}"): (404,),
    ("POST", "/api/v1/holds/{hold_id}/lift"): (403, 404, 409),
    ("POST", "/api/v1/campaigns"): (403,),
    ("GET", "/api/v1/campaigns/{campaign_id}"): (404,),
    ("POST", "/api/v1/campaigns/{campaign_id}/approve"): (403, 404, 409),
    ("POST", "/api/v1/campaigns/{campaign_id}/pause"): (403, 404, 409),
    ("POST", "/api/v1/campaigns/{campaign_id}/resume"): (403, 404, 409),
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel"): (403, 404, 409),
    ("GET", "/api/v1/campaigns/{campaign_id}/report"): (403, 404),
    ("GET", "/api/v1/campaigns/{campaign_id}/report.html"): (403, 404),
    ("POST", "/api/v1/exceptions"): (403, 404),
    ("GET", "/api/v1/exceptions/{exception_id}"): (404,),
    ("POST", "/api/v1/exceptions/{exception_id}/approve"): (403, 404, 409),
    ("POST", "/api/v1/exceptions/{exception_id}/revoke"): (403, 404, 409),
    ("GET", "/api/v1/ledger/heads/latest"): (403, 404),
    ("GET", "/api/v1/ledger/entries/{seq}"): (403, 404),
    ("GET", "/api/v1/ledger/consistency"): (403, 404),
    ("POST", "/api/v1/me/sign-in/second-factor"): (429,),
    ("POST", "/api/v1/me/reauthenticate"): (429,),
    ("POST", "/api/v1/me/methods/totp/{pending_id}/confirm"): (400,),
    ("POST", "/api/v1/me/methods/webauthn"): (400,),
    ("POST", "/api/v1/me/methods/{authenticator_id}/revoke"): (404,),
    # A method that is not locked (404); a session too old or too weak for it (403).
    ("POST", "/api/v1/me/locks/{method}/reset"): (403, 404),
    ("POST", "/api/v1/me/contacts"): (409, 429),
    ("POST", "/api/v1/me/contacts/{contact_id}/confirm"): (400, 409),
    ("PUT", "/api/v1/me/contacts/{contact_id}"): (404, 409, 429),
    ("DELETE", "/api/v1/me/contacts/{contact_id}"): (404,),
    ("POST", "/api/v1/self-service/recoveries"): (429,),
    ("POST", "/api/v1/self-service/recoveries/{flow}/proofs"): (400, 429),
    ("POST", "/api/v1/self-service/reset"): (400,),
    ("POST", "/api/v1/self-service/reset/check"): (400,),
    ("POST", "/api/v1/self-service/reset/progress"): (400,),
    # A shared account owner's link: bad, used, superseded or lapsed (400).
    ("POST", "/api/v1/self-service/shared-credential"): (400,),
    ("POST", "/api/v1/self-service/webauthn-links/options"): (400,),
    ("POST", "/api/v1/self-service/webauthn-links/proof"): (400, 429),
    ("POST", "/api/v1/challenges/answer"): (429,),
    ("POST", "/api/v1/signals/sim-swap"): (404,),
    ("GET", "/readyz"): (503,),
    ("GET", "/api/v1/ssf/streams"): (404,),
    ("PATCH", "/api/v1/ssf/streams"): (404,),
    ("PUT", "/api/v1/ssf/streams"): (404,),
    ("DELETE", "/api/v1/ssf/streams"): (404,),
    ("GET", "/api/v1/ssf/status"): (404,),
    ("POST", "/api/v1/ssf/status"): (404,),
    ("POST", "/api/v1/ssf/verify"): (404, 409, 429),
    # Service accounts: an unknown subject (404), a refused or blocked opening
    # (409), a case in another state (409) or expired (410), a wrong proof (400).
    ("POST", "/api/v1/me/service-accounts/{service_id}/rotations"): (404, 409),
    ("POST", "/api/v1/me/rotations/{case_id}/email-code"): (404, 409, 410, 429),
    ("POST", "/api/v1/me/rotations/{case_id}/proof"): (400, 404, 409, 410, 429),
    ("POST", "/api/v1/owners/{owner_id}/depart"): (404,),
    ("POST", "/api/v1/service-accounts/{service_id}/interactive-use"): (404,),
    ("GET", "/api/v1/oversight/alerts"): (403,),
}


def kind_of(method: str, path: str) -> Kind:
    """The kind of an operation. Raises LookupError for a path no kind covers, so
    a new route cannot go undocumented."""
    for kind in KINDS:
        if kind.matches(method, path):
            return kind
    raise LookupError(f"no kind of operation covers {method} {path}")


def statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """Every error status ``method path`` can answer, given its OpenAPI operation."""
    found = set(kind_of(method, path).statuses)
    # Invalid input, or input the operation does not take (api/strict_input.py).
    found.add(422)
    # A body above max_request_bytes, refused before it is read (api/body_limit.py).
    found.add(413)
    if path.startswith(f"{_CASE}"):
        found.add(404)  # an unknown case, or one outside the operator's scope
    found.update(EXTRAS.get((method, path), ()))
    return found


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": MEANING[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def operations(document: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's ``document`` in place: our error model replaces its
    validation-error schema, and every operation lists its error statuses."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for fastapi_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_own, None)
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas[ERROR_SCHEMA] = error
    components["securitySchemes"] = {
        OPERATOR_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An operator token (`cop_...`), from `custos operator add`.",
        },
        SUBJECT_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A subject session (`css_...`), from `POST /api/v1/me/sign-in`.",
        },
    }
    for method, path, operation in operations(document):
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        for status in sorted(statuses(method, path, operation)):
            responses[str(status)] = _error_response(status)
        security = kind_of(method, path).security
        if security is not None:
            operation["security"] = [{security: []}]
    return document


def install(app: FastAPI) -> None:
    """Serve the rewritten document at the application's OpenAPI URL."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
