"""Structured logs never carry secrets and cannot be forged by input (R-37)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from custos import logs

SECRETS = {
    "password": "hunter2",
    "token": "crt_abc",
    "reset_code": "123456",
    "api_key": "k-secret-value",
}


@pytest.fixture
def buf() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure("info", stream=stream)
    yield stream
    structlog.reset_defaults()


def lines(buf: io.StringIO) -> list[str]:
    return buf.getvalue().splitlines()


def test_log_secret_fields_redacted(buf: io.StringIO) -> None:
    """R-37: fields named like secrets are replaced; the secrets never appear."""
    structlog.get_logger().info("x", user="bob", **SECRETS)
    (line,) = lines(buf)
    entry = json.loads(line)
    for name in SECRETS:
        assert entry[name] == logs.REDACTED
    for value in SECRETS.values():
        assert value not in buf.getvalue()
    assert entry["user"] == "bob"
    assert entry["event"] == "x"
    assert entry["level"] == "info"
    assert "timestamp" in entry


@pytest.mark.parametrize(
    "name", ["Authorization", "client_secret", "otp", "credential", "new_passwd", "totp_secret"]
)
def test_log_secret_like_names_redacted(buf: io.StringIO, name: str) -> None:
    """R-37: the check is on the field name, case-insensitive."""
    structlog.get_logger().info("x", **{name: "s3cr3t-value"})
    entry = json.loads(lines(buf)[0])
    assert entry[name] == logs.REDACTED
    assert "s3cr3t-value" not in buf.getvalue()


def test_log_newline_in_value_stays_one_line(buf: io.StringIO) -> None:
    """R-37: a newline in user input cannot start a forged entry."""
    forged = 'bob\n{"event": "login", "level": "info", "user": "admin"}'
    structlog.get_logger().info("lookup", user=forged, note="a\r\n{forged}")
    out = lines(buf)
    assert len(out) == 1
    entry = json.loads(out[0])
    assert entry["user"] == forged
    assert entry["note"] == "a\r\n{forged}"


def test_log_newline_in_event_stays_one_line(buf: io.StringIO) -> None:
    """R-37: the event text itself is encoded too."""
    structlog.get_logger().warning("bad input\n{forged}")
    out = lines(buf)
    assert len(out) == 1
    assert json.loads(out[0])["event"] == "bad input\n{forged}"


def test_log_below_level_not_written(buf: io.StringIO) -> None:
    structlog.get_logger().debug("noise", user="bob")
    structlog.get_logger().info("kept")
    out = lines(buf)
    assert len(out) == 1
    assert json.loads(out[0])["event"] == "kept"


def test_log_bound_secret_field_redacted(buf: io.StringIO) -> None:
    """R-37: a secret bound to the logger earlier is redacted as well."""
    structlog.get_logger().bind(session_token="crt_bound").info("x")
    entry = json.loads(lines(buf)[0])
    assert entry["session_token"] == logs.REDACTED
    assert "crt_bound" not in buf.getvalue()
