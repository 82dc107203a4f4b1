"""Input an operation does not take is refused, never dropped.

An endpoint that takes no body used to accept any and drop it silently, so a
client that sent ``{"password": ...}`` to ``/execute`` learned nothing and the
secret travelled for nothing; a misspelt query parameter (``?stat=proofing``)
was ignored and the answer looked right. One dependency, installed on the
application for every route, answers 422 ``invalid_input`` when

* a POST, PUT, PATCH or DELETE whose operation documents no ``requestBody``
  carries a non-empty body, or
* the query string names a parameter the operation does not declare, or
* the path, the query string or a form field (the console's pages post
  forms) holds a NUL character (PostgreSQL cannot store or compare one; JSON
  bodies refuse it in their base model), or
* a form names a field the route does not declare (a misspelt field would
  otherwise leave its parameter at its default, unnoticed).

Authentication still answers first: before refusing, the guard runs the
route's authenticating dependencies (registered with :func:`authenticates`), so
a caller without valid credentials gets 401 as for any other invalid input.
Request bodies forbid unknown fields through their base model
(``schemas.RequestBody``). An operation that reads its body raw (a signed
webhook) declares it in ``openapi_extra`` and is left alone: what the OpenAPI
document shows is what the API accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from custos.domain.errors import InvalidInput

#: Methods whose requests may carry a body at all.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Content types whose body FastAPI parses as a form.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

Authenticator = TypeVar("Authenticator", bound=Callable[..., Any])
#: Dependencies that authenticate a caller, called as ``(request, services)``.
_AUTHENTICATORS: set[Callable[..., Any]] = set()


def authenticates(dependency: Authenticator) -> Authenticator:
    """Register a sync dependency ``(request, services)`` that raises for a caller
    without valid credentials, so that it answers before the input guard."""
    _AUTHENTICATORS.add(dependency)
    return dependency


def _authenticators(dependant: Dependant) -> list[Callable[..., Any]]:
    found = [dependant.call] if dependant.call in _AUTHENTICATORS else []
    for sub in dependant.dependencies:
        found += _authenticators(sub)
    return found


def takes_body(route: APIRoute) -> bool:
    """Whether ``route`` accepts a request body: a body parameter, or one declared
    by hand for an endpoint that reads the raw bytes."""
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


def declared_names(dependant: Dependant, kind: str) -> set[str]:
    """The wire names of the ``kind`` parameters (``query_params``,
    ``body_params``, ``path_params``) a route or dependency declares, its
    dependencies' included."""
    names = {param.alias for param in getattr(dependant, kind)}
    for sub in dependant.dependencies:
        names |= declared_names(sub, kind)
    return names


async def _form(request: Request, route: APIRoute) -> FormData | None:
    """The form a request posts (the route's own parsing reads the same cached
    form), or None for any other body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # An operation that reads its body raw (route.body_field None) is left alone.
    if request.method not in BODY_METHODS or route.body_field is None or kind not in FORM_TYPES:
        return None
    return await request.form()


def _form_refusal(form: FormData, route: APIRoute) -> InvalidInput | None:
    texts = [text for item in form.multi_items() for text in item if isinstance(text, str)]
    if any("\x00" in text for text in texts):
        return InvalidInput(
            "the form holds a NUL character",
            problems=[{"field": "(form)", "problem": "must not contain a NUL character"}],
        )
    unknown = sorted(set(form.keys()) - declared_names(route.dependant, "body_params"))
    if unknown:
        return InvalidInput(
            "the form holds fields this page does not take",
            problems=[
                {"field": name[:100], "problem": "unknown form field"} for name in unknown[:20]
            ],
        )
    return None


async def _refusal(request: Request, route: APIRoute) -> InvalidInput | None:
    # PostgreSQL cannot store or compare text holding NUL: refuse it at the door.
    texts = [request.url.path, *request.query_params.keys(), *request.query_params.values()]
    if any("\x00" in text for text in texts):
        return InvalidInput(
            "the request holds a NUL character",
            problems=[{"field": "(path or query)", "problem": "must not contain a NUL character"}],
        )
    form = await _form(request, route)
    refused = None if form is None else _form_refusal(form, route)
    if refused is not None:
        return refused
    unknown = sorted(set(request.query_params) - declared_names(route.dependant, "query_params"))
    if unknown:
        return InvalidInput(
            "the request names query parameters this operation does not take",
            problems=[
                {"field": name[:100], "problem": "unknown query parameter"} for name in unknown[:20]
            ],
        )
    if request.method in BODY_METHODS and not takes_body(route) and await request.body():
        return InvalidInput(
            "this operation takes no request body; send none",
            problems=[{"field": "(body)", "problem": "unexpected request body"}],
        )
    return None


async def refuse_unexpected_input(request: Request) -> None:
    """Raise InvalidInput for a body or a query parameter the operation does not
    take, once the route's authentication passed (its error comes first)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    refusal = await _refusal(request, route)
    if refusal is None:
        return
    for authenticate in _authenticators(route.dependant):
        await run_in_threadpool(authenticate, request, request.app.state.services)
    raise refusal
