"""The API contract over HTTP: input an operation does not take is refused,
integer parameters are bounded, every answer carries its cache and transport
headers, ``/metrics`` is a setting, and the OpenAPI document states the real
error model and statuses. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from subject_helpers import PASSWORD, with_password

from conftest import World, make_world
from custos.api.app import create_app
from custos.api.contract import EXTRAS, kind_of, operations
from custos.domain.model import Channel, Role
from custos.service.enrolment import subject_sessions
from custos.service.recovery import cases

TOO_BIG = 2**63


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.svc)) as client:
        yield client


def operator(world: World) -> dict[str, str]:
    """The bearer header of ``root``, an operator with every role on everyone."""
    token = world.tokens.get("root") or world.operator("root", *Role, scope=("*",))
    return {"Authorization": f"Bearer {token}"}


def subject(world: World) -> dict[str, str]:
    world.subject("sam")
    with_password(world, "sam")
    signed_in = subject_sessions.sign_in(world.svc, identifier="sam", password=PASSWORD)
    return {"Authorization": f"Bearer {signed_in.token}"}


def error_id(response: Any) -> str:
    return str(response.json()["error"]["id"])


def test_execute_refuses_a_body_and_leaves_the_case_alone(world: World, api: TestClient) -> None:
    """A password sent to an operation that takes no body is refused (422), not
    dropped; the case does not move."""
    world.subject("ada")
    world.operator("hana", Role.REQUESTER)
    case = cases.open_helpdesk_case(
        world.svc,
        world.operators["hana"],
        subject_id="ada",
        reason="lost phone",
        channel=Channel.HELPDESK,
    )
    response = api.post(
        f"/api/v1/cases/{case.id}/execute",
        json={"password": "correct-horse-battery-staple"},
        headers=operator(world),
    )
    assert response.status_code == 422
    assert error_id(response) == "invalid_input"
    assert "correct-horse" not in response.text
    # Authentication still answers first: no token, 401 whatever the body.
    anonymous = api.post(f"/api/v1/cases/{case.id}/execute", json={"password": "x"})
    assert anonymous.status_code == 401
    with world.svc.uow() as uow:
        assert uow.cases.get(case.id).state == case.state


def test_every_bodyless_operation_refuses_a_body(world: World, api: TestClient) -> None:
    """Every POST, PUT and DELETE whose document shows no request body answers 422
    ``invalid_input`` to one, whoever calls it."""
    headers = {**operator(world)}
    session = subject(world)
    bodyless = [
        (method, path)
        for method, path, operation in operations(api.get("/api/v1/openapi.json").json())
        if method in ("POST", "PUT", "DELETE") and "requestBody" not in operation
    ]
    assert ("POST", "/api/v1/cases/{case_id}/execute") in bodyless
    assert len(bodyless) >= 15
    for method, path in bodyless:
        url = path.replace("{case_id}", "case-x").replace("{flow}", "flow-x")
        url = url.replace("{contact_id}", "1")
        sent = session if path.startswith("/api/v1/me/") else headers
        response = api.request(method, url, json={"password": "hunter2"}, headers=sent)
        assert response.status_code == 422, (method, path, response.text)
        assert error_id(response) == "invalid_input", (method, path)


def test_request_bodies_forbid_unknown_fields(world: World, api: TestClient) -> None:
    """Every request body in the document is closed, and an unknown field is refused."""
    document = api.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    bodies = 0
    for method, path, operation in operations(document):
        if "requestBody" not in operation:
            continue
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        assert schema.get("additionalProperties") is False, (method, path)
        bodies += 1
    assert bodies >= 25
    world.subject("ada")
    response = api.post(
        "/api/v1/cases",
        json={"subject": "ada", "reason": "lost phone", "priority": "high"},
        headers=operator(world),
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"][0]["field"] == "priority"


def test_unknown_query_parameter_is_refused(world: World, api: TestClient) -> None:
    """A misspelt filter fails loudly instead of listing every case."""
    response = api.get("/api/v1/cases?stat=proofing", headers=operator(world))
    assert response.status_code == 422
    assert response.json()["error"]["details"]["problems"] == [
        {"field": "stat", "problem": "unknown query parameter"}
    ]
    assert api.get("/api/v1/cases?state=proofing", headers=operator(world)).status_code == 200


def test_unparsable_body_is_invalid_input(api: TestClient) -> None:
    """A body that is not JSON (or not UTF-8) is invalid input like any other."""
    response = api.post(
        "/api/v1/self-service/recoveries",
        content=b"\xff\xfe{",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert error_id(response) == "invalid_input"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v1/cases/case%00x", None),
        ("GET", "/api/v1/cases?subject=ada%00", None),
        ("POST", "/api/v1/cases", {"subject": "ada\x00", "reason": "lost phone"}),
        ("POST", "/api/v1/self-service/recoveries", {"identifier": "ada\x00"}),
        ("POST", "/api/v1/me/sign-in", {"identifier": "ada\x00", "password": "x"}),
    ],
)
def test_nul_character_is_invalid_input(
    world: World, api: TestClient, method: str, url: str, body: dict[str, str] | None
) -> None:
    """PostgreSQL cannot store or compare text holding NUL: that used to be a 500
    there; on both stores it is refused as invalid input."""
    world.subject("ada")
    response = api.request(method, url, json=body, headers=operator(world))
    assert response.status_code == 422, response.text
    assert error_id(response) == "invalid_input"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/me/contacts/{n}/confirm", {"code": "12345678"}),
        ("PUT", "/api/v1/me/contacts/{n}", {"address": "sam@new.example.org"}),
        ("DELETE", "/api/v1/me/contacts/{n}", None),
        ("POST", "/api/v1/me/methods/totp/{n}/confirm", {"code": "123456"}),
    ],
)
def test_huge_row_id_answers_422(
    world: World, api: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    """2^63 used to be a 500 (SQLite OverflowError); 2^31 overflows PostgreSQL's
    INTEGER ids. Both are refused as invalid input."""
    session = subject(world)
    for number in (TOO_BIG, 2**31):
        response = api.request(method, path.format(n=number), json=body, headers=session)
        assert response.status_code == 422, (number, response.text)
        assert error_id(response) == "invalid_input"


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/ledger/entries/{TOO_BIG}",
        f"/api/v1/ledger/entries/1?tree_size={TOO_BIG}",
        f"/api/v1/ledger/consistency?first={TOO_BIG}",
        f"/api/v1/ledger/consistency?first=1&second={TOO_BIG}",
    ],
)
def test_huge_ledger_position_answers_422(world: World, api: TestClient, url: str) -> None:
    response = api.get(url, headers=operator(world))
    assert response.status_code == 422, response.text
    assert error_id(response) == "invalid_input"


def test_every_integer_parameter_is_bounded(api: TestClient) -> None:
    """No integer path or query parameter reaches the store unbounded."""
    found = 0
    for method, path, operation in operations(api.get("/api/v1/openapi.json").json()):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            options = schema.get("anyOf", [schema])
            for option in options:
                if option.get("type") == "integer":
                    found += 1
                    assert option.get("maximum", TOO_BIG) < TOO_BIG, (method, path, parameter)
                    assert "minimum" in option, (method, path, parameter)
    assert found >= 7


def test_api_answers_are_never_cached(world: World, api: TestClient) -> None:
    """Every /api/v1 answer, success or failure, says ``Cache-Control: no-store``."""
    answers = [
        api.get("/api/v1/ledger/keys"),
        api.get("/api/v1/cases"),  # 401
        api.get("/api/v1/cases", headers=operator(world)),
        api.get("/api/v1/nothing-here"),
        api.post("/api/v1/self-service/recoveries", json={"identifier": "nobody"}),
    ]
    assert [a.status_code for a in answers] == [200, 401, 200, 404, 202]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        # No other site loads an answer as a resource; JSON opens no page.
        assert answer.headers["cross-origin-resource-policy"] == "same-origin"
        assert "cross-origin-opener-policy" not in answer.headers


def test_hsts_is_sent_for_an_https_origin(world: World, api: TestClient) -> None:
    """The test world's public origin is https://recovery.example.org."""
    for path in ("/healthz", "/api/v1/ledger/keys", "/reset"):
        assert api.get(path).headers["strict-transport-security"] == "max-age=63072000"


def test_no_hsts_for_an_http_origin(tmp_path: Path) -> None:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, public_origin="http://127.0.0.1:8080"
    )
    with TestClient(create_app(world.svc)) as client:
        response = client.get("/api/v1/ledger/keys")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


def test_metrics_are_off_by_default(api: TestClient) -> None:
    response = api.get("/metrics")
    assert response.status_code == 404
    assert error_id(response) == "not_found"


def test_metrics_answer_when_enabled(tmp_path: Path) -> None:
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, metrics_enabled=True)
    with TestClient(create_app(world.svc)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "custos_cases_total" in response.text


def test_evidence_export_is_a_post(world: World, api: TestClient) -> None:
    """Exporting writes ledger entries and signs a head: GET is not allowed."""
    response = api.get("/api/v1/cases/case-x/evidence", headers=operator(world))
    assert response.status_code == 405
    assert error_id(response) == "method_not_allowed"
    document = api.get("/api/v1/openapi.json").json()
    assert set(document["paths"]["/api/v1/cases/{case_id}/evidence"]) == {"post"}


def test_openapi_documents_the_error_model_and_statuses(api: TestClient) -> None:
    """Every operation lists its error statuses with our error body; FastAPI's
    own validation error shape is gone from the document."""
    document = api.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert schemas["Error"]["required"] == ["error"]
    assert set(schemas["ErrorDetail"]["required"]) == {"id", "message", "details"}
    listed = set()
    for method, path, operation in operations(document):
        kind_of(method, path)  # every operation belongs to a kind
        listed.add((method, path))
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, status)
        assert "422" in operation["responses"], (method, path)
        assert "413" in operation["responses"], (method, path)  # api/body_limit.py
    assert set(EXTRAS) <= listed, set(EXTRAS) - listed
    execute = document["paths"]["/api/v1/cases/{case_id}/execute"]["post"]
    assert set(execute["responses"]) == {"200", "401", "403", "404", "409", "410", "413", "422"}
    assert execute["security"] == [{"operatorToken": []}]
    sign_in = document["paths"]["/api/v1/me/sign-in"]["post"]
    assert set(sign_in["responses"]) == {"200", "401", "413", "422", "429"}
    assert "security" not in sign_in
