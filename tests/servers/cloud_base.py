"""The common part of the local cloud identity-provider servers (Microsoft Graph,
Okta): an HTTPS server on 127.0.0.1 in a background thread that hands each
request to a ``route`` function, records every request, records a failure for
every request that does not match the vendor's published description (and
answers it 400), and replays injected faults (429 with Retry-After, 5xx, ...).

These servers answer with the documented shapes; they are not the vendors'
services (docs/connectors.md#what-the-cloud-tests-prove).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import BaseModel, ValidationError

from servers.tls import TlsFiles


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Answer the next ``times`` requests whose ``METHOD path`` matches ``pattern``
    with ``answer`` instead of serving them."""

    pattern: str
    answer: Answer
    times: int = 1


class Invalid(Exception):
    """A request that does not match the published description."""


_M = TypeVar("_M", bound=BaseModel)


def validated(model: type[_M], data: Any) -> _M:
    """``data`` as ``model`` or Invalid naming what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors()
        )
        raise Invalid(f"{model.__name__}: {problems}") from exc


class CloudServer:
    """Subclasses implement ``route(request) -> Answer`` (raising Invalid for a
    request the description does not allow) and ``invalid(message) -> Answer``."""

    name = "cloud"

    def __init__(self, tls: TlsFiles) -> None:
        self._tls = tls
        self.lock = threading.RLock()
        self.seen: list[str] = []
        self.failures: list[str] = []
        self._faults: list[Fault] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- to implement ------------------------------------------------------------
    def route(self, request: Request) -> Answer:
        raise NotImplementedError

    def invalid(self, message: str) -> Answer:
        raise NotImplementedError

    # -- faults and records --------------------------------------------------------
    def inject(self, pattern: str, answer: Answer, times: int = 1) -> None:
        with self.lock:
            self._faults.append(Fault(pattern, answer, times))

    def clear(self) -> None:
        with self.lock:
            self._faults.clear()
            self.seen.clear()
            self.failures.clear()

    def count(self, pattern: str) -> int:
        with self.lock:
            return sum(1 for line in self.seen if re.fullmatch(pattern, line))

    def _fault(self, line: str) -> Answer | None:
        with self.lock:
            for fault in self._faults:
                if fault.times > 0 and re.fullmatch(fault.pattern, line):
                    fault.times -= 1
                    return fault.answer
        return None

    def handle(self, request: Request) -> Answer:
        line = f"{request.method} {request.path}"
        with self.lock:
            self.seen.append(line)
        injected = self._fault(line)
        if injected is not None:
            return injected
        try:
            return self.route(request)
        except Invalid as exc:
            with self.lock:
                self.failures.append(f"{line}: {exc}")
            return self.invalid(str(exc))

    # -- lifecycle ---------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self._tls.ca_file)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(size) if size else b"",
                )
                answer = server.handle(request)
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        try:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        except OSError as exc:
            pytest.fail(f"{self.name} test server cannot listen on 127.0.0.1:{self.port}: {exc}")
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_port
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._tls.cert_file, self._tls.key_file)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"{self.name}-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = None


Route = Callable[[Request], Answer]
