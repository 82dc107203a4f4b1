"""Request bodies above ``max_request_bytes`` are refused with 413
``request_too_large`` before the application reads them, through the real
server (uvicorn on loopback): a declared Content-Length at once, a chunked body
as soon as it passes the bound; the API answers its JSON error, the console a
page; a body under the bound is served as before, and a refused one changes
nothing. Before, FastAPI read any body whole into memory, on unauthenticated
routes too."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from live_server import free_port, serve
from sqlalchemy import func, select

from conftest import World
from custos.api.body_limit import _content_length
from custos.store.tables import ledger

LIMIT = 1_048_576


@pytest.fixture
def origin(sqlite_world: World) -> Iterator[str]:
    port = free_port()
    with serve(sqlite_world, port):
        yield f"http://127.0.0.1:{port}"


def _ledger_size(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def test_an_api_body_above_the_bound_is_refused_before_it_is_read(
    sqlite_world: World, origin: str
) -> None:
    before = _ledger_size(sqlite_world)
    padding = "x" * (LIMIT + 1)
    answer = httpx.post(
        f"{origin}/api/v1/self-service/recoveries",
        content=json.dumps({"identifier": padding}),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["id"] == "request_too_large"
    assert error["details"] == {"limit_bytes": LIMIT}
    assert answer.headers["x-content-type-options"] == "nosniff"  # still under the headers
    assert answer.headers["cache-control"] == "no-store"
    assert _ledger_size(sqlite_world) == before


def test_a_chunked_body_is_refused_once_it_passes_the_bound(origin: str) -> None:
    """No Content-Length: the server reads up to the bound, then answers."""
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 65_536
            yield b" " * 65_536

    answer = httpx.post(
        f"{origin}/api/v1/me/sign-in",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["id"] == "request_too_large"


def test_a_body_under_the_bound_is_served_as_before(origin: str) -> None:
    near = {"identifier": "nobody", "padding": "x" * (LIMIT - 1024)}
    answer = httpx.post(f"{origin}/api/v1/self-service/recoveries", json=near, timeout=30)
    # Read whole and judged by the route: an unknown field, not a size.
    assert answer.status_code == 422
    assert answer.json()["error"]["id"] == "invalid_input"


def test_a_chunked_body_under_the_bound_reaches_the_route_whole(origin: str) -> None:
    """The pieces read to measure it are handed on in order: the route parses
    the JSON split over several chunks and judges the credentials (401), not
    the body."""
    text = json.dumps({"identifier": "nobody", "password": "wrong-" + "y" * 1_000}).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(text), 50):
            yield text[start : start + 50]

    answer = httpx.post(
        f"{origin}/api/v1/me/sign-in",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["id"] == "unauthenticated"


def test_a_console_form_above_the_bound_answers_a_page(origin: str) -> None:
    answer = httpx.post(
        f"{origin}/console/holds",
        data={"reason": "x" * (LIMIT + 1)},
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "Error id: request_too_large" in answer.text


def test_the_bound_is_a_setting(sqlite_world: World) -> None:
    """``max_request_bytes`` moves the bound (16 KiB at least)."""
    sqlite_world.svc.settings.max_request_bytes = 16_384
    port = free_port()
    with serve(sqlite_world, port):
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/me/sign-in",
            content=b"{" + b" " * 20_000 + b"}",
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
    assert answer.status_code == 413
    assert answer.json()["error"]["details"] == {"limit_bytes": 16_384}


def test_a_declared_length_that_is_not_a_number_counts_as_too_large() -> None:
    def scope(value: bytes) -> dict[str, object]:
        return {"headers": [(b"content-length", value)]}

    assert _content_length(scope(b"12")) == 12
    assert _content_length(scope(b"-1")) == 2**63
    assert _content_length(scope(b"1" * 40)) == 2**63
    assert _content_length({"headers": []}) is None


def test_the_connection_is_closed_after_a_refusal(origin: str) -> None:
    """The rest of a refused body is never read: the server says it closes."""
    host, port = origin.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(
            b"POST /api/v1/me/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {LIMIT * 100}\r\n\r\n".encode()
        )
        head = raw.recv(65_536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")
    assert "connection: close" in head.lower()
