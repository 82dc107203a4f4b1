"""Text messages through a pluggable :class:`SmsGateway`.

A gateway hands one :class:`SmsMessage` to a carrier or aggregator. The
:class:`SmsOutbox` shipped here writes each message as a JSON file into a folder
(the demo and the tests read it with :func:`read_sms_outbox`); a production
gateway (an HTTP aggregator, say) is one class with the same ``send``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from custos.notify.mailbox_files import read_messages, write_message


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
        record = {
            "to": message.to,
            "kind": message.kind,
            "case_id": message.case_id,
            "body": message.body,
        }
        try:
            write_message(self.folder, record)
        except OSError as exc:
            raise SmsDeliveryFailed(f"cannot write to SMS outbox {self.folder}: {exc}") from exc


def read_sms_outbox(folder: Path) -> list[dict[str, Any]]:
    """Texts in the outbox, oldest first."""
    return read_messages(folder)
