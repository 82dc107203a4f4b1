"""RFC 5424 messages and RFC 6587 octet-counting frames.

A message is ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`` with
the OCSF JSON as MSG and the event id in structured data, so a receiver can
de-duplicate without parsing the JSON. Header fields are reduced to printable
US-ASCII without spaces (RFC 5424 §6); SD values escape ``"``, ``\\`` and ``]``;
MSG is ASCII JSON (no control characters). Octet counting frames a message by
its length, never by a newline, so no content can split a message.
"""

from __future__ import annotations

import re

#: The private enterprise number reserved for documentation (RFC 5612).
SD_ID = "custos@32473"
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_SEVERITY_OF_OCSF = {1: 6, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1}  # OCSF severity_id -> syslog


def header_field(value: str, max_len: int) -> str:
    """A header field: printable US-ASCII, no spaces, at most ``max_len``; ``-`` if empty."""
    cleaned = _NOT_PRINTUSASCII.sub("_", value)[:max_len]
    return cleaned or "-"


def sd_value(value: str) -> str:
    """An SD-PARAM value with ``\\``, ``"`` and ``]`` escaped (RFC 5424 §6.3.3)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return _NOT_PRINTABLE.sub("?", escaped)


def syslog_severity(ocsf_severity_id: int) -> int:
    """Map an OCSF severity id to a syslog severity (informational by default)."""
    return _SEVERITY_OF_OCSF.get(ocsf_severity_id, 6)


def format_message(
    *,
    facility: int,
    severity: int,
    timestamp: str,
    hostname: str,
    msgid: str,
    event_id: str,
    seq: int,
    msg: str,
) -> bytes:
    """One RFC 5424 message. ``timestamp`` is RFC 3339 (``...Z``); ``msg`` must
    already be ASCII JSON (see :func:`custos.export.ocsf.encode`)."""
    pri = facility * 8 + severity
    sd = f'[{SD_ID} eventId="{sd_value(event_id)}" seq="{seq}"]'
    head = " ".join(
        (
            f"<{pri}>1",
            header_field(timestamp, 64),
            header_field(hostname, 255),
            "custos",
            "-",
            header_field(msgid, 32),
            sd,
        )
    )
    return f"{head} {msg}".encode("ascii", errors="replace")


def frame(message: bytes) -> bytes:
    """Octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3): ``LEN SP MSG``."""
    return str(len(message)).encode("ascii") + b" " + message
