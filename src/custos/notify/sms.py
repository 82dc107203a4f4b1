"""Text messages through a pluggable :class:`SmsGateway`.

A gateway hands one :class:`SmsMessage` to a carrier or aggregator. The
:class:`SmsOutbox` shipped here writes each message as a JSON file into a folder
(the demo and the tests read it with :func:`read_sms_outbox`); a production
gateway (an HTTP aggregator, say) is one class with the same ``send``.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One text to one phone number. ``kind`` names the template (``sms_code``)."""

    to: str
    body: str
    kind: str
    case_id: str | None = None


class SmsDeliveryFailed(Exception):
    """The gateway could not accept the message."""


class SmsGateway(Protocol):
    def send(self, message: SmsMessage) -> None:
        """Hand ``message`` to the carrier. Raises SmsDeliveryFailed when it cannot."""
        ...


class SmsOutbox:
    """The demo's phone: every text becomes a JSON file in ``folder`` (mode 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: SmsMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            now = datetime.now(UTC)
            name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
            record = {
                "sent_at": now.isoformat(),
                "to": message.to,
                "kind": message.kind,
                "case_id": message.case_id,
                "body": message.body,
            }
            tmp = self.folder / f".{name}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            tmp.replace(self.folder / name)
        except OSError as exc:
            raise SmsDeliveryFailed(f"cannot write to SMS outbox {self.folder}: {exc}") from exc


def read_sms_outbox(folder: Path) -> list[dict[str, Any]]:
    """Texts in the outbox, oldest first."""
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
