"""A real SMTP server on loopback (aiosmtpd) for the notification tests: one
listener with STARTTLS required and AUTH (one user), one with implicit TLS, both
with a throwaway CA. Every message that arrives is parsed and kept, with whether
its session was encrypted and authenticated."""

from __future__ import annotations

import hmac
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from servers.tls import make_tls_files

USERNAME = "custos-mailer"
PASSWORD = "smtp-relay-pass-8f2c1d"


@dataclass(frozen=True)
class Received:
    envelope_to: tuple[str, ...]
    message: EmailMessage
    tls: bool
    authenticated: bool
    raw: bytes

    @property
    def kind(self) -> str:
        return str(self.message["X-Custos-Kind"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return None if part is None else str(part.get_content())


@dataclass
class SmtpServer:
    host: str
    starttls_port: int
    tls_port: int
    ca_file: Path
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Run before every read of what was received: the test's Custos sends the
    #: notices waiting in its outbox, as its worker would (``World.send_notices``).
    before_read: Callable[[], object] | None = None

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
        self.before_read = None

    def _flush(self) -> None:
        if self.before_read is not None:
            self.before_read()

    def to(self, address: str, kind: str | None = None) -> list[Received]:
        self._flush()
        with self.lock:
            return [
                r
                for r in self.received
                if address in r.envelope_to and (kind is None or r.kind == kind)
            ]

    def of_kind(self, kind: str) -> list[Received]:
        self._flush()
        with self.lock:
            return [r for r in self.received if r.kind == kind]

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """An ``smtp`` settings section for the STARTTLS listener."""
        return {
            "host": self.host,
            "port": self.starttls_port,
            "security": "starttls",
            "username": USERNAME,
            "password": {"value": PASSWORD},
            "from_address": "custos@recovery.example.org",
            "ca_file": str(self.ca_file),
            "timeout_s": 5,
            **overrides,
        }


class _Collector:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.server.lock:
            self.server.received.append(
                Received(
                    envelope_to=tuple(envelope.rcpt_tos),
                    message=parsed,
                    # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                    tls=session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None,
                    authenticated=bool(session.authenticated),
                    raw=raw,
                )
            )
        return "250 Message accepted"


def _authenticator(
    _server: Any, _session: Any, _envelope: Any, _mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and hmac.compare_digest(auth_data.password, PASSWORD.encode())
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    tls = make_tls_files(tmp_path_factory.mktemp("smtp-tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server = SmtpServer(
        host="127.0.0.1", starttls_port=_free_port(), tls_port=_free_port(), ca_file=tls.ca_file
    )
    collector = _Collector(server)
    starttls = Controller(
        collector,
        hostname=server.host,
        port=server.starttls_port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    implicit = Controller(
        collector,
        hostname=server.host,
        port=server.tls_port,
        server_hostname="localhost",
        ssl_context=context,
    )
    starttls.start()
    implicit.start()
    try:
        yield server
    finally:
        starttls.stop()
        implicit.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> Iterator[SmtpServer]:
    """The session's SMTP server, emptied for this test."""
    smtp_server.clear()
    yield smtp_server
    smtp_server.before_read = None
