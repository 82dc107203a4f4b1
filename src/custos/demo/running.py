"""The record of a running demo, so that ``custos demo --tour`` in a second
shell can play against it without replacing its operators' tokens.

While it runs, ``custos demo`` keeps ``<data_dir>/demo-run.json`` (mode 0600,
written whole and renamed into place): its address, mailbox, the subjects'
secrets file and the API token of every demo operator. The file holds live
tokens in clear, like the terminal the demo prints them to; it sits beside the
sealing key and the database, which give whoever can read that folder full
control of the demo anyway. It is removed when the demo stops; one left by a
killed demo is ignored (its process is gone, or nothing answers at its
address) and replaced at the next start. Demo only: ``custos serve`` writes no such file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_FILE = "demo-run.json"
#: /healthz and /readyz must answer within this many seconds for a demo to count as running
PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class RunningDemo:
    base_url: str
    origin: str
    outbox: Path
    secrets_file: Path
    pid: int
    tokens: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "origin": self.origin,
            "outbox": str(self.outbox),
            "secrets_file": str(self.secrets_file),
            "pid": self.pid,
            "tokens": self.tokens,
        }


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte, replacing
    any older file whole (a reader never sees half of it)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def record(data_dir: Path, demo: RunningDemo) -> Path:
    path = data_dir / RUN_FILE
    write_private_json(path, demo.to_json())
    return path


def read(data_dir: Path) -> RunningDemo | None:
    """The recorded demo of ``data_dir``, or None when there is no readable record."""
    try:
        data = json.loads((data_dir / RUN_FILE).read_text(encoding="utf-8"))
        return RunningDemo(
            base_url=str(data["base_url"]),
            origin=str(data["origin"]),
            outbox=Path(data["outbox"]),
            secrets_file=Path(data["secrets_file"]),
            pid=int(data["pid"]),
            tokens={str(k): str(v) for k, v in dict(data["tokens"]).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(data_dir: Path, pid: int) -> None:
    """Remove the record if it is the one process ``pid`` wrote."""
    found = read(data_dir)
    if found is not None and found.pid == pid:
        (data_dir / RUN_FILE).unlink(missing_ok=True)


def alive(pid: int) -> bool:
    """Is process ``pid`` still running (on this machine)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def answers(base_url: str) -> bool:
    """Does a Custos answer at ``base_url`` (``/healthz`` and ``/readyz`` 200)?"""
    import httpx

    try:
        with httpx.Client(base_url=base_url, timeout=PROBE_TIMEOUT_S) as http:
            return all(http.get(path).status_code == 200 for path in ("/healthz", "/readyz"))
    except httpx.HTTPError:
        return False
