"""The real app served by uvicorn on loopback in a thread, configured as
``custos serve`` configures it (custos.api.serving)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from conftest import World
from custos.api.app import create_app
from custos.api.serving import server_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(world: World, port: int) -> Iterator[None]:
    """``create_app(world.svc)`` on 127.0.0.1:``port`` in a thread, until the block ends."""
    config = server_config(create_app(world.svc), host="127.0.0.1", port=port, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
