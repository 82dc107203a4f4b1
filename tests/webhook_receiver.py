"""A local HTTP receiver for the signed security webhook: records every POST
(headers, body) and answers 204. :func:`serving` starts one on a chosen port
(a receiver that is down at first, then comes up)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Received = list[tuple[dict[str, str], bytes]]


class _Receiver(BaseHTTPRequestHandler):
    received: Received = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(name="receiver")
def webhook_receiver() -> Iterator[tuple[str, Received]]:
    """The receiver's URL and the list its requests land in."""
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Receiver.received
    server.shutdown()
    server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(port: int, received: Received) -> Iterator[None]:
    """A receiver on ``port`` appending to ``received`` while the block runs."""

    class Handler(_Receiver):
        pass

    Handler.received = received
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
