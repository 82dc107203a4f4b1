"""Every console route, sent hostile input in every path, query and form parameter
it declares, answers a page and never a server error: NUL characters
(PostgreSQL cannot store one: a break-glass reason or a hold's reason holding
one answered 500 there), numbers past 64 bits, very long text, the last minute
of year 9999, dates that do not exist, markup. Nothing it answers echoes markup
unescaped, and the ledger still verifies afterwards. The JSON API has the same
guarantee from its schemathesis run (tests/e2e/test_api_schema.py); the console
is not in the OpenAPI document, so it is walked here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from recoveries import helpdesk_recovery

from conftest import World
from custos.api.strict_input import declared_names
from custos.domain.model import Role
from custos.ledger import audit
from custos.web.install import CONSOLE_ROUTERS

MARKUP = "<script>alert(1)</script>"
HOSTILE = ["", "9999-12-31T23:59", "9" * 25, "x" * 3000, "a\x00b", "2026-13-45", "\u202eé", MARKUP]


def _routes() -> Iterator[tuple[str, APIRoute]]:
    for router in CONSOLE_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert route.methods is not None  # FastAPI gives every APIRoute its methods
            for method in sorted(route.methods):
                yield method, route


def _path(route: APIRoute, value: str, known: dict[str, str]) -> str:
    """The route's path with every parameter set to ``value`` (a known id where
    ``known`` has one), escaped as a browser would."""
    path = route.path
    for name in declared_names(route.dependant, "path_params"):
        text = known.get(name, value) or "x"
        path = path.replace("{" + name + "}", text.replace("\x00", "%00").replace("/", "%2F"))
    return path


def _answer(client: TestClient, method: str, route: APIRoute, path: str, value: str) -> None:
    query = dict.fromkeys(declared_names(route.dependant, "query_params"), value)
    form = dict.fromkeys(declared_names(route.dependant, "body_params") - {"csrf"}, value)
    if method == "GET":
        answer = client.get(path, params=query, follow_redirects=False)
    else:
        csrf = csrf_of(client.get("/").text)
        answer = client.request(
            method, path, params=query, data={**form, "csrf": csrf}, follow_redirects=False
        )
    where = f"{method} {route.path} with {value[:20]!r}"
    assert answer.status_code < 500, (where, answer.text[:500])
    assert MARKUP not in answer.text, where
    if answer.status_code >= 400 and path.startswith("/console/"):
        assert answer.headers["content-type"].startswith("text/html"), where


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_every_console_route_answers_hostile_input_without_a_server_error(
    world: World, value: str
) -> None:
    """No 5xx, errors as pages, no markup echoed; the ledger verifies (R-38)."""
    case_id = helpdesk_recovery(world, "carl")
    world.operator("root", *Role)
    known = {"case_id": case_id, "subject_id": "carl", "name": "root"}
    client = console_client(world)
    client = TestClient(client.app, base_url=str(client.base_url), raise_server_exceptions=False)
    with client:
        for method, route in _routes():
            sign_in(client, world, "root")  # afresh: a sign-out route ends the session
            _answer(client, method, route, _path(route, value, {}), value)
            if any(name in known for name in declared_names(route.dependant, "path_params")):
                _answer(client, method, route, _path(route, value, known), value)
    report = audit.verify(world.svc)
    assert report.entries > 0 and not report.problems
