"""Health endpoints and the published OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import World
from custos.api.app import create_app


def test_health_ready_and_openapi(sqlite_world: World) -> None:
    with TestClient(create_app(sqlite_world.svc)) as api:
        assert api.get("/healthz").json() == {"status": "ok"}
        ready = api.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["policy"] == sqlite_world.svc.policy.hash
        spec = api.get("/api/v1/openapi.json").json()
        assert "/api/v1/self-service/recoveries" in spec["paths"]
        assert "/api/v1/cases/{case_id}/approve" in spec["paths"]


def test_readyz_reports_a_dead_database(sqlite_world: World) -> None:
    from custos.store.database import make_engine

    broken = sqlite_world.svc
    broken.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with TestClient(create_app(broken)) as api:
        response = api.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["id"] == "not_ready"


def test_unknown_route_has_a_stable_error(sqlite_world: World) -> None:
    with TestClient(create_app(sqlite_world.svc)) as api:
        response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["id"] == "not_found"
