"""The demo's mailbox: every message is written as a JSON file into a folder that
``custos outbox`` shows. It stands in for the subject's inbox, so it may hold the
one-time links addressed to subjects; production configures SMTP instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from custos.notify.base import Message, NotificationFailed
from custos.notify.mailbox_files import read_messages, write_message


class OutboxNotifier:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message) -> None:
        record = {
            "to": message.to,
            "subject": message.subject,
            "kind": message.kind,
            "case_id": message.case_id,
            "body": message.body,
        }
        try:
            write_message(self.folder, record)
        except OSError as exc:
            raise NotificationFailed(f"cannot write to outbox {self.folder}: {exc}") from exc


def read_outbox(folder: Path) -> list[dict[str, Any]]:
    """Messages in the outbox, oldest first."""
    return read_messages(folder)
