"""Witnesses: every new signed tree head is published outside the database, to
an append-only JSON-lines file (fsynced) and optionally POSTed as JSON to an
HTTP(S) endpoint, so rewriting the database alone cannot hide history."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import structlog

from custos.config import Settings
from custos.ledger.signing import KeyRingError, TreeHead

log = structlog.get_logger("custos.ledger.witness")


def append_to_file(path: Path, head: TreeHead) -> None:
    """Append ``head`` as one JSON line and fsync it before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(head.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: Path) -> tuple[list[TreeHead], list[str]]:
    """The heads in a witness file and a problem line for each unreadable line
    (a missing file is no heads). Lines are split on newlines only and decoded
    one by one, so that a damaged byte costs its own line, not the file."""
    if not path.exists():
        return [], []
    heads, problems = [], []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            heads.append(TreeHead.from_json(json.loads(raw.decode("utf-8"))))
        except (ValueError, KeyRingError, AttributeError):  # UnicodeDecodeError too
            problems.append(f"{path}:{number}: not a tree head")
    return heads, problems


def publish(settings: Settings, head: TreeHead) -> list[str]:
    """Publish ``head`` to every configured witness; return one message per
    witness that failed (an empty list: all took it). Never raises."""
    failures = []
    if settings.ledger_witness_file is not None:
        try:
            append_to_file(settings.ledger_witness_file, head)
        except OSError as exc:
            failures.append(f"witness file {settings.ledger_witness_file}: {exc.strerror}")
    if settings.ledger_witness_url is not None:
        try:
            response = httpx.post(settings.ledger_witness_url, json=head.to_json(), timeout=10)
            if not response.is_success:
                failures.append(f"witness URL answered {response.status_code}")
        except httpx.HTTPError as exc:
            failures.append(f"witness URL: {type(exc).__name__}")
    for failure in failures:
        log.warning("witness_publish_failed", problem=failure)
    return failures
