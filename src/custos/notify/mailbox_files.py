"""The demo mailboxes' storage: one private JSON file per message in a folder,
written atomically so a reader never sees half a message."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def write_message(folder: Path, record: dict[str, Any]) -> None:
    """Store ``record`` (plus its ``sent_at``) as a new mode-0600 file in ``folder``
    (created mode 0700). Raises OSError."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)
    name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
    tmp = folder / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"sent_at": now.isoformat(), **record}, fh, indent=2)
    tmp.replace(folder / name)


def read_messages(folder: Path) -> list[dict[str, Any]]:
    """Messages in ``folder``, oldest first, each with its ``file`` name."""
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["file"] = path.name
        messages.append(record)
    return messages
