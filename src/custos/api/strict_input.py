"""Input an operation does not take is refused, never dropped.

An endpoint that takes no body used to accept any and drop it silently, so a
client that sent ``{"password": ...}`` to ``/execute`` learned nothing and the
secret travelled for nothing; a misspelt query parameter (``?stat=proofing``)
was ignored and the answer looked right. One dependency, installed on the
application for every route, answers 422 ``invalid_input`` when

* a POST, PUT, PATCH or DELETE whose operation documents no ``requestBody``
  carries a non-empty body, or
* the query string names a parameter the operation does not declare.

Request bodies forbid unknown fields through their base model
(``schemas.RequestBody``). An operation that reads its body raw (a signed
webhook) declares it in ``openapi_extra`` and is left alone: what the OpenAPI
document shows is what the API accepts.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from custos.domain.errors import InvalidInput

#: Methods whose requests may carry a body at all.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def takes_body(route: APIRoute) -> bool:
    """Whether ``route`` accepts a request body: a body parameter, or one declared
    by hand for an endpoint that reads the raw bytes."""
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


def query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route (or dependency) declares, by their wire names,
    its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


async def refuse_unexpected_input(request: Request) -> None:
    """Raise InvalidInput for a body or a query parameter the operation does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - query_names(route.dependant))
    if unknown:
        raise InvalidInput(
            "the request names query parameters this operation does not take",
            problems=[
                {"field": name[:100], "problem": "unknown query parameter"} for name in unknown[:20]
            ],
        )
    if request.method in BODY_METHODS and not takes_body(route) and await request.body():
        raise InvalidInput(
            "this operation takes no request body; send none",
            problems=[{"field": "(body)", "problem": "unexpected request body"}],
        )
