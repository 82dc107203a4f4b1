"""SQLite copies through SQLite's online backup API: a consistent copy of a
live database (other processes keep writing: in WAL mode the copy reads one
snapshot), and the copy written back page by page into the database file."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

#: ``(pages copied, pages in all)``.
PageProgress = Callable[[int, int], None]
#: Pages per step when writing a copy back (the copy does not change meanwhile).
_STEP_PAGES = 256


def database_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL."""
    path = make_url(url).database
    if not path or path == ":memory:":
        raise ValueError("an in-memory SQLite database has no file to back up")
    return Path(path)


def copy_out(source: Path, target: Path, progress: PageProgress | None = None) -> None:
    """Copy the live database ``source`` into the new file ``target`` (mode 0600)
    in one step, so that writers elsewhere never restart it; the copy is left
    in rollback-journal mode, a single self-contained file."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1, progress=_adapt(progress))
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def copy_in(source: Path, target: Path, progress: PageProgress | None = None) -> None:
    """Write the copy ``source`` over the database ``target``, page by page
    (SQLite's backup API takes the target's write lock; no other process may
    use it meanwhile), then put the target back in WAL mode."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=60)
    try:
        src.backup(dst, pages=_STEP_PAGES, progress=_adapt(progress))
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


def _adapt(progress: PageProgress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None

    def report(_status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total)

    return report
