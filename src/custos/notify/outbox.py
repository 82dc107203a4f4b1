"""The demo's mailbox: every message is written as a JSON file into a folder that
``custos outbox`` shows. It stands in for the subject's inbox, so it may hold the
one-time links addressed to subjects; production configures SMTP instead."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from custos.notify.base import Message, NotificationFailed


class OutboxNotifier:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            now = datetime.now(UTC)
            name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
            record = {
                "sent_at": now.isoformat(),
                "to": message.to,
                "subject": message.subject,
                "kind": message.kind,
                "case_id": message.case_id,
                "body": message.body,
            }
            tmp = self.folder / f".{name}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, indent=2)
            tmp.replace(self.folder / name)  # atomic: readers never see half a message
        except OSError as exc:
            raise NotificationFailed(f"cannot write to outbox {self.folder}: {exc}") from exc


def read_outbox(folder: Path) -> list[dict[str, Any]]:
    """Messages in the outbox, oldest first."""
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["file"] = path.name
        messages.append(record)
    return messages
