"""Sinks deliver a batch of OCSF events and return only once the receiver
acknowledged all of it; anything else raises :class:`SinkError` and the batch
is sent again later (at-least-once; events carry their id for de-duplication).

What counts as acknowledged:

- syslog over TCP or TLS: every frame was written, our side closed the stream
  (TLS: ``close_notify``), and the receiver closed its side in turn, which it
  does only after reading everything up to our end of stream;
- HTTPS: the POST of the JSON array answered 2xx.

Error tree::

    SinkError            delivery not acknowledged; retry later
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from custos.config import HttpsSinkConfig, SyslogSinkConfig
from custos.export import ocsf
from custos.export.syslog import format_message, frame, syslog_severity


class SinkError(Exception):
    """The batch was not acknowledged (connection, TLS, timeout or HTTP status)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One ledger entry on its way out: its ledger position and OCSF form."""

    seq: int
    event_id: str
    event: dict[str, Any]


class Sink(Protocol):
    def send(self, batch: Sequence[Outgoing]) -> None:
        """Deliver ``batch`` in order. Returns only when acknowledged; raises SinkError."""


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SyslogSink:
    """RFC 5424 over TCP (RFC 6587 octet counting) or TLS (RFC 5425)."""

    def __init__(self, config: SyslogSinkConfig) -> None:
        self.config = config
        self.hostname = config.hostname or socket.gethostname()

    def render(self, item: Outgoing) -> bytes:
        """The RFC 5424 message for one event (without framing)."""
        return format_message(
            facility=self.config.facility,
            severity=syslog_severity(int(item.event["severity_id"])),
            timestamp=str(item.event["metadata"]["original_time"]),
            hostname=self.hostname,
            msgid=str(item.event["metadata"]["event_code"]),
            event_id=item.event_id,
            seq=item.seq,
            msg=ocsf.encode(item.event),
        )

    def send(self, batch: Sequence[Outgoing]) -> None:
        payload = b"".join(frame(self.render(item)) for item in batch)
        cfg = self.config
        try:
            raw = socket.create_connection((cfg.host, cfg.port), timeout=cfg.timeout_s)
        except OSError as exc:
            raise SinkError(f"cannot connect to {cfg.host}:{cfg.port}: {exc}") from exc
        try:
            if cfg.tls:
                ca = str(cfg.ca_file) if cfg.ca_file else None
                tls = _tls_context(ca).wrap_socket(raw, server_hostname=cfg.server_name or cfg.host)
                tls.sendall(payload)
                _close_tls_and_wait(tls)
            else:
                raw.sendall(payload)
                raw.shutdown(socket.SHUT_WR)
                _wait_for_peer_close(raw)
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(f"delivery to {cfg.host}:{cfg.port} not acknowledged: {exc}") from exc
        finally:
            raw.close()


def _wait_for_peer_close(sock: socket.socket) -> None:
    """Block until the receiver closes its side (it read all we sent)."""
    while sock.recv(4096):
        pass  # a syslog receiver sends nothing; discard whatever it might


def _close_tls_and_wait(tls: ssl.SSLSocket) -> None:
    try:
        plain = tls.unwrap()  # sends close_notify, waits for the peer's
    except ssl.SSLEOFError:
        return  # the receiver read our close_notify and closed the connection
    _wait_for_peer_close(plain)


class HttpsSink:
    """POST each batch as a JSON array with ``Authorization: Bearer``."""

    def __init__(self, config: HttpsSinkConfig) -> None:
        self.config = config

    def send(self, batch: Sequence[Outgoing]) -> None:
        cfg = self.config
        headers = {"Content-Type": "application/json"}
        if cfg.bearer_token is not None:
            headers["Authorization"] = f"Bearer {cfg.bearer_token.reveal()}"
        body = "[" + ",".join(ocsf.encode(item.event) for item in batch) + "]"
        verify = _tls_context(str(cfg.ca_file) if cfg.ca_file else None)
        try:
            with httpx.Client(verify=verify, timeout=cfg.timeout_s) as client:
                response = client.post(cfg.url, content=body.encode("ascii"), headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"POST {cfg.url} failed: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise SinkError(f"POST {cfg.url} answered {response.status_code}")


def make_sink(config: SyslogSinkConfig | HttpsSinkConfig) -> Sink:
    """The sink for one configured entry of ``siem.sinks``."""
    if isinstance(config, SyslogSinkConfig):
        return SyslogSink(config)
    return HttpsSink(config)
