"""Who the source of a request is, through the real server as ``custos serve``
runs it (uvicorn on loopback, custos.api.serving): X-Forwarded-For is ignored
unless the socket peer is a configured trusted proxy, so rotating the header
cannot escape a per-source throttle (R-20). SQLite only: what is tested is
the HTTP layer; the throttle's store runs on both backends elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from live_server import free_port, serve
from sqlalchemy import select

from conftest import World, make_world
from custos.proofing import rate_rules
from custos.store.tables import self_service_flows

START = "/api/v1/self-service/recoveries"


@contextmanager
def _running(tmp_path: Path, **settings: Any) -> Iterator[tuple[World, httpx.Client]]:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, enumeration_floor_ms=0, **settings
    )
    world.subject("olivia")
    port = free_port()
    try:
        with serve(world, port), httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            yield world, client
    finally:
        world.svc.engine.dispose()


def _start(client: httpx.Client, forwarded_for: str) -> httpx.Response:
    return client.post(
        START, json={"identifier": "olivia"}, headers={"X-Forwarded-For": forwarded_for}
    )


def _recorded_sources(world: World) -> list[str]:
    """The source address of every recovery started, sorted (the test clock
    stands still, so they carry one time)."""
    with world.svc.engine.connect() as conn:
        return sorted(conn.execute(select(self_service_flows.c.source_address)).scalars())


def test_forwarded_for_is_ignored_by_default(tmp_path: Path) -> None:
    """No trusted proxies (the default): the socket peer is the source, even
    from 127.0.0.1, where uvicorn on its own would believe the header."""
    with _running(tmp_path) as (world, client):
        assert world.svc.settings.trusted_proxies == []
        assert _start(client, "203.0.113.9").status_code == 202
        assert _start(client, "198.51.100.1, 203.0.113.10").status_code == 202
        assert _recorded_sources(world) == ["127.0.0.1", "127.0.0.1"]


def test_forwarded_for_is_honoured_from_a_configured_proxy(tmp_path: Path) -> None:
    """From a trusted proxy, the right-most address that is not a trusted
    proxy is the source; what the client wrote left of it is not."""
    trusted = ["127.0.0.1", "203.0.113.0/24"]
    with _running(tmp_path, trusted_proxies=trusted) as (world, client):
        assert _start(client, "198.51.100.1").status_code == 202
        assert _start(client, "192.0.2.66, 198.51.100.2, 203.0.113.10").status_code == 202
        assert _start(client, "203.0.113.10").status_code == 202
        assert _recorded_sources(world) == sorted(["198.51.100.1", "198.51.100.2", "203.0.113.10"])


def test_rotating_forwarded_for_does_not_escape_the_per_source_throttle(tmp_path: Path) -> None:
    """R-20: recovery starts from one source are limited whatever the header
    says; from an untrusted peer a new X-Forwarded-For each time is no new source."""
    free = rate_rules.STARTS_PER_SOURCE.free
    with _running(tmp_path) as (world, client):
        for n in range(free):
            answer = _start(client, f"198.51.{n // 250}.{n % 250 + 1}")
            assert answer.status_code == 202, (n, answer.text)
        refused = _start(client, "192.0.2.200")
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["id"] == "throttled"
        assert set(_recorded_sources(world)) == {"127.0.0.1"}
