"""PostgreSQL copies driven through ``pg_dump`` and ``pg_restore`` (custom
format, the schema Custos uses only, no owners or privileges): a dump taken in
an exported snapshot, so the caller reads the same state as the dump, and a
restore into a schema emptied first.

The tools must be installed where the command runs (Debian:
``postgresql-client``) and of the server's major version or newer; without
them, backups stop with ``pg_dump_missing``, naming what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from custos.domain.errors import DomainError

#: ``(tables done, tables in all)``.
TableProgress = Callable[[int, int], None]
_DUMPING = re.compile(r"dumping contents of table|processing data for table")


class PgToolMissing(DomainError):
    error_id = "pg_dump_missing"


class PgToolFailed(DomainError):
    error_id = "pg_dump_failed"


def tool(name: str) -> str:
    """The path of ``pg_dump`` / ``pg_restore``; raises PgToolMissing."""
    found = shutil.which(name)
    if found is None:
        raise PgToolMissing(
            f"'{name}' is not installed here: a PostgreSQL backup or restore runs "
            f"{name} (Debian: apt install postgresql-client, of the server's major "
            "version or newer), or take one with your own pg_dump as docs/operations.md "
            "describes"
        )
    return found


def current_schema(conn: Connection) -> str:
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    if schema is None:
        raise PgToolFailed("the connection has no current schema (check search_path)")
    return str(schema)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the tools without the password (given in PGPASSWORD
    instead, so it never shows in a process list), and the environment."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None)
    return uri.render_as_string(hide_password=False), env


def dump(
    url: str,
    target: Path,
    *,
    schema: str,
    snapshot: str | None,
    tables: int,
    progress: TableProgress | None = None,
) -> None:
    """``pg_dump`` the ``schema`` into the new file ``target`` (mode 0600),
    reading ``snapshot`` (``pg_export_snapshot()`` of a transaction the caller
    holds open) when given. Raises PgToolMissing or PgToolFailed."""
    uri, env = _libpq(url)
    command = [
        tool("pg_dump"),
        "--format=custom",
        f"--schema={schema}",
        "--no-owner",
        "--no-privileges",
        "--no-comments",
        "--verbose",
        f"--file={target}",
    ]
    if snapshot is not None:
        command.append(f"--snapshot={snapshot}")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    _run([*command, f"--dbname={uri}"], env, tables, progress)


def restore(url: str, source: Path, *, tables: int, progress: TableProgress | None = None) -> None:
    """``pg_restore`` ``source`` in one transaction; the dump's schema must not
    exist (the caller dropped it). Raises PgToolMissing or PgToolFailed."""
    uri, env = _libpq(url)
    command = [
        tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--verbose",
        f"--dbname={uri}",
        str(source),
    ]
    _run(command, env, tables, progress)


def _run(
    command: list[str], env: dict[str, str], tables: int, progress: TableProgress | None
) -> None:
    done, tail = 0, list[str]()
    with subprocess.Popen(  # noqa: S603 - fixed arguments, no shell
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:
            tail = [*tail[-19:], line.rstrip()]
            if _DUMPING.search(line):
                done += 1
                if progress is not None:
                    progress(done, max(tables, done))
        code = process.wait()
    if code != 0:
        problems = [line for line in tail if "error" in line.lower()] or tail[-3:]
        raise PgToolFailed(
            f"{Path(command[0]).name} failed (exit {code}): " + " | ".join(problems)[:1500]
        )
