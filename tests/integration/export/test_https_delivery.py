"""SIEM export over HTTPS to a tiny loopback collector (http.server + ssl): JSON
array batches with the bearer token, 2xx as the only acknowledgement, CA checked."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from recoveries import self_service_recovery
from servers.tls import TlsFiles, make_tls_files
from siem_helpers import ledger_ids, with_sinks

from conftest import World
from custos.export.delivery import Exporter, export_status

TOKEN = "siem-ingest-token-1234"


@dataclass
class Collector:
    url: str
    tls: TlsFiles
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    tls = make_tls_files(tmp_path)
    state = Collector(url="", tls=tls)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.url = f"https://127.0.0.1:{server.server_address[1]}/ingest"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _sink(collector: Collector, ca_file: Path) -> dict[str, Any]:
    return {
        "kind": "https",
        "url": collector.url,
        "bearer_token": {"env": "CUSTOS_TEST_SIEM_TOKEN"},
        "ca_file": str(ca_file),
        "timeout_s": 5,
    }


def test_https_delivery_posts_json_arrays_with_the_bearer_token(
    world: World, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOS_TEST_SIEM_TOKEN", TOKEN)
    svc = with_sinks(world, {"collector": _sink(collector, collector.tls.ca_file)}, batch=10)
    world.subject("bob")
    self_service_recovery(world, "bob")
    world.drain()
    written = ledger_ids(svc)
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in collector.requests)
    assert all(r["headers"]["Content-Type"] == "application/json" for r in collector.requests)
    assert all(isinstance(r["body"], list) and len(r["body"]) <= 10 for r in collector.requests)
    received = [e["metadata"]["uid"] for r in collector.requests for e in r["body"]]
    assert received == written
    assert export_status(svc)[0].pending == 0


def test_https_error_answer_keeps_the_batch_for_a_retry(
    world: World, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 is no acknowledgement: the cursor stays and the same events come again."""
    monkeypatch.setenv("CUSTOS_TEST_SIEM_TOKEN", TOKEN)
    svc = with_sinks(world, {"collector": _sink(collector, collector.tls.ca_file)}, batch=500)
    world.subject("carol")
    self_service_recovery(world, "carol")
    collector.status = 503
    exporter = Exporter(svc)
    assert exporter.run_once() == 0
    assert export_status(svc)[0].last_seq == 0
    collector.status = 204
    assert exporter.run_once(force=True) == len(ledger_ids(svc))
    first, second = (r["body"] for r in collector.requests)
    assert first == second  # same events, same ids: the receiver can de-duplicate


def test_https_sink_refuses_a_server_its_ca_did_not_sign(
    world: World, collector: Collector, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CUSTOS_TEST_SIEM_TOKEN", TOKEN)
    other = tmp_path / "other"
    other.mkdir()
    stranger = make_tls_files(other, ca_name="Someone else's CA")
    svc = with_sinks(world, {"collector": _sink(collector, stranger.ca_file)})
    world.subject("dave")
    self_service_recovery(world, "dave")
    assert Exporter(svc).run_once() == 0
    assert collector.requests == []  # the token never left for an unverified server
    assert export_status(svc)[0].pending == len(ledger_ids(svc))
