"""The published OpenAPI document holds for the real application: generated
requests (valid and invalid) against every operation, as an operator with every
role and as a signed-in subject, on SQLite. Any 5xx, any status the document
does not list for the operation, and any body, header or content type that
breaks it fails the run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from recoveries import self_service_recovery
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from subject_helpers import PASSWORD, with_password

from conftest import World, make_world
from custos.api.app import create_app
from custos.api.contract import operations
from custos.domain.errors import NotAuthorized, Throttled
from custos.domain.model import Channel, Role
from custos.ledger.heads import key_ring, sign_tree_head
from custos.service.enrolment import subject_sessions
from custos.service.recovery import cases

#: Generated examples per operation (the boundary values come on top): the 64
#: operations take about three minutes on two cores.
MAX_EXAMPLES = 20
SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Api:
    """The application under test and the credentials its callers hold."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.app = create_app(world.svc)
        self.operator = world.operator("root", *Role, scope=("*",))
        self.session: str | None = None
        #: The statuses each operation answered, to show the credentials got through.
        self.seen: dict[str, set[int]] = {}

    def subject_session(self) -> str:
        """A live full session of ``sam`` (no second factor bound); a new one when
        an earlier example signed the last one out (a sign-in costs a password hash)."""
        if self.session is not None:
            try:
                subject_sessions.current(self.world.svc, self.session)
                return self.session
            except NotAuthorized:
                pass
        try:
            signed_in = subject_sessions.sign_in(
                self.world.svc, identifier="sam", password=PASSWORD
            )
        except Throttled as exc:
            # Generated wrong passwords (re-authentication) count against sam too.
            self.world.clock.advance(timedelta(seconds=exc.retry_after_seconds + 1))
            signed_in = subject_sessions.sign_in(
                self.world.svc, identifier="sam", password=PASSWORD
            )
        self.session = signed_in.token
        return self.session

    def headers_for(self, path: str) -> dict[str, str]:
        if path.startswith("/api/v1/me/") and path != "/api/v1/me/sign-in":
            return {"Authorization": f"Bearer {self.subject_session()}"}
        if path == "/api/v1/me" or path.startswith(
            (
                "/api/v1/cases",
                "/api/v1/ledger/",
                "/api/v1/ssf/",
                "/api/v1/holds",
                "/api/v1/campaigns",
                "/api/v1/exceptions",
            )
        ):
            return {"Authorization": f"Bearer {self.operator}"}
        return {}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        enumeration_floor_ms=0,
        metrics_enabled=True,
    )
    world.subject("bob")
    self_service_recovery(world, "bob")
    world.subject("sam")
    with_password(world, "sam")
    world.subject("ada", with_totp=True)
    world.operator("hana", Role.REQUESTER)
    cases.open_helpdesk_case(
        world.svc,
        world.operators["hana"],
        subject_id="ada",
        reason="lost phone",
        channel=Channel.HELPDESK,
    )
    key_ring(world.svc).ensure(world.clock.now())
    sign_tree_head(world.svc)
    try:
        yield Api(world)
    finally:
        world.svc.engine.dispose()


def test_every_operation_keeps_its_documented_contract(api: Api) -> None:
    """Every operation answers only what the document says, in the documented shape
    (each failing operation is named with its first failure)."""
    # The test sends the credentials itself (headers_for): generating them too
    # would only produce requests whose missing token it then puts back.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app, config=config)

    def call(case: Any) -> None:
        response = case.call_and_validate(headers=api.headers_for(case.path), checks=CHECKS)
        api.seen.setdefault(case.operation.label, set()).add(response.status_code)

    # The same tests the pytest plugin builds (the schema's examples, its
    # boundary values, generated valid and invalid requests), run here in one
    # loop: the plugin's fixture-based schemas rename test nodes through an
    # attribute pytest 9 no longer has.
    built = get_all_tests(schema=schema, test_func=call, settings=SETTINGS, given_kwargs=None)
    tests = []
    for result in built:
        assert isinstance(result, Ok), result.err()
        tests.append(result.ok())
    assert len(tests) == len(list(operations(api.app.openapi())))
    failures: dict[str, str] = {}
    for operation, test in tests:
        try:
            test()
        except (Exception, BaseExceptionGroup) as exc:  # one failure must not hide others
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
    # The credentials worked: operator, ledger reader and subject reads succeeded.
    for label in ("GET /api/v1/me", "GET /api/v1/cases", "GET /api/v1/ledger/heads/latest"):
        assert 200 in api.seen[label], (label, api.seen[label])
    assert 200 in api.seen["GET /api/v1/me/contacts"], api.seen["GET /api/v1/me/contacts"]
