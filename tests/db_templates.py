"""Migrated databases for tests, copied from a template instead of migrated anew.

Every ``world`` needs a database at the newest Alembic revision. Running the
migrations costs about 0.25 s a database; copying one already migrated costs a
few milliseconds (SQLite: a file copy) or about 0.06 s (PostgreSQL: ``CREATE
DATABASE ... TEMPLATE``). Each test process migrates one template per backend,
the first time it needs one, with the project's own migrations: what the copies
hold is exactly what ``custos`` would have created. The migrations themselves
are still run from an empty schema by the store and migration tests
(``pg_schema``).

The PostgreSQL template's name carries a digest of the migration files and the
process id, so that concurrent test processes (pytest-xdist workers, or two
checkouts on one machine) never share or drop each other's template.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from custos.store.database import MIGRATIONS, make_engine, upgrade

_sqlite_template: Path | None = None
_pg_template: str | None = None


def migrations_digest() -> str:
    """A short digest of every migration file: a template made from other
    migrations is never reused."""
    digest = hashlib.sha256()
    for path in sorted(Path(MIGRATIONS).rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def copy_sqlite_template(destination: Path) -> None:
    """Write a migrated SQLite database at ``destination`` (which must not exist)."""
    global _sqlite_template
    if _sqlite_template is None:
        path = Path(tempfile.mkdtemp(prefix="custos-template-")) / "custos.db"
        _migrate(f"sqlite:///{path}")
        atexit.register(shutil.rmtree, path.parent, True)
        _sqlite_template = path
    shutil.copyfile(_sqlite_template, destination)


def _pg_template_name(admin_url: str) -> str:
    global _pg_template
    if _pg_template is None:
        name = f"custos_tmpl_{migrations_digest()}_{os.getpid()}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        _migrate(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
        atexit.register(_drop_database, admin_url, name)
        _pg_template = name
    return _pg_template


def _drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database at the newest revision, copied from this
    process's template; yields its URL and drops it afterwards."""
    template = _pg_template_name(admin_url)
    with _new_database(admin_url, f'TEMPLATE "{template}" STRATEGY WAL_LOG') as url:
        yield url


@contextmanager
def empty_pg_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database with no schema at all (a test that migrates
    it itself, e.g. with an older release); yields its URL and drops it."""
    with _new_database(admin_url, "") as url:
        yield url


@contextmanager
def _new_database(admin_url: str, options: str) -> Iterator[str]:
    name = f"custos_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" {options}'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
