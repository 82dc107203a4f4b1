"""The SMTP notifier against a real server on loopback: STARTTLS with AUTH,
implicit TLS, certificate validation, and failures mapped to NotificationFailed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from mail_world import mail_world
from pydantic import SecretStr
from servers.smtp import PASSWORD, SmtpServer
from servers.tls import make_tls_files

from conftest import World
from custos.config import SecretSource
from custos.domain.states import CaseState
from custos.notify import messages
from custos.notify.base import Message, NotificationFailed
from custos.notify.email import SmtpNotifier
from custos.service.recovery import self_service
from custos.store.tables import ledger


def notifier(smtp: SmtpServer, **overrides: object) -> SmtpNotifier:
    options: dict[str, object] = {
        "host": smtp.host,
        "port": smtp.starttls_port,
        "from_address": "custos@recovery.example.org",
        "security": "starttls",
        "username": "custos-mailer",
        "password": SecretSource(value=SecretStr(PASSWORD)),
        "ca_file": smtp.ca_file,
        "timeout_s": 5,
    }
    options.update(overrides)
    return SmtpNotifier(**options)  # type: ignore[arg-type]


def code_message(to: str = "bob@example.org") -> Message:
    return messages.email_code(to=to, case_id="case-1", code="48213907", minutes=10)


@pytest.fixture
def bad_password_world(tmp_path: Path, smtp: SmtpServer) -> Iterator[World]:
    yield from mail_world("sqlite", tmp_path, smtp.settings(password={"value": "wrong-pass"}))


def test_email_code_arrives_over_starttls_with_auth(smtp: SmtpServer) -> None:
    """The code message arrives encrypted and authenticated, as text with an HTML
    alternative, marked automatic, with a Message-ID (R-13, R-15)."""
    notifier(smtp).send(code_message())
    [got] = smtp.to("bob@example.org", "email_code")
    assert got.tls and got.authenticated
    assert "is 48213907." in got.text
    assert got.html is not None and "48213907" in got.html
    assert got.message["Auto-Submitted"] == "auto-generated"
    assert got.message["From"] == "custos@recovery.example.org"
    assert str(got.message["Message-ID"]).endswith("@recovery.example.org>")
    assert got.message["X-Custos-Case"] == "case-1"


def test_implicit_tls_delivers_the_message(smtp: SmtpServer) -> None:
    notifier(smtp, port=smtp.tls_port, security="tls", username=None, password=None).send(
        code_message("tls@example.org")
    )
    [got] = smtp.to("tls@example.org")
    assert got.tls and got.kind == "email_code"


def test_wrong_smtp_password_raises_notification_failed(smtp: SmtpServer) -> None:
    wrong = notifier(smtp, password=SecretSource(value=SecretStr("not-the-password")))
    with pytest.raises(NotificationFailed, match="authentication") as raised:
        wrong.send(code_message())
    assert "not-the-password" not in str(raised.value)
    assert smtp.to("bob@example.org") == []


def test_untrusted_certificate_raises_notification_failed(smtp: SmtpServer, tmp_path: Path) -> None:
    """Another CA's file: the server certificate does not validate, nothing is sent."""
    other_ca = make_tls_files(tmp_path, ca_name="Somebody else").ca_file
    with pytest.raises(NotificationFailed, match="TLS"):
        notifier(smtp, ca_file=other_ca).send(code_message())
    assert smtp.to("bob@example.org") == []


def test_unreachable_relay_raises_notification_failed(smtp: SmtpServer) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NotificationFailed, match="cannot reach"):
        notifier(smtp, port=port, timeout_s=2).send(code_message())


def test_header_injection_raises_notification_failed(smtp: SmtpServer) -> None:
    evil = code_message("bob@example.org\r\nBcc: mallory@example.org")
    with pytest.raises(NotificationFailed):
        notifier(smtp).send(evil)
    assert smtp.received == []


def test_wrong_smtp_password_leaves_the_case_unaffected(
    bad_password_world: World, smtp: SmtpServer
) -> None:
    """A send the relay refuses (in the worker's sweep, after the commit) changes
    nothing on the case; the failure is recorded in the ledger and logged
    without the password or the body (R-37)."""
    world = bad_password_world
    world.subject("bob")
    flow = self_service.start(world.svc, identifier="bob", source_address=None)
    self_service.request_email_code(world.svc, handle=flow)  # answers as if all went well
    with structlog.testing.capture_logs() as logs:
        world.send_notices()  # does not raise
    assert smtp.received == []
    with world.svc.uow() as uow:
        case_id = uow.cases.search(subject_id="bob")[0]["id"]
        assert uow.cases.get(case_id).state == CaseState.PROOFING
        assert uow.email_codes.issued_since(case_id, world.clock.now()) == 1
        types = [row.type for row in uow.conn.execute(ledger.select().order_by(ledger.c.seq))]
    assert "notify:subject:failed" in types and "notify:subject:sent" not in types
    failed = [entry for entry in logs if entry["event"] == "notification_failed"]
    assert failed and failed[0]["kind"] == "email_code"
    assert "wrong-pass" not in repr(logs) and "verification code" not in repr(logs)
