"""Policy texts kept by hash (``ledger.policies``), on SQLite and PostgreSQL
(each takes its own ``INSERT ... ON CONFLICT DO NOTHING``): the text a case
froze stays exactly as first stored, so an evidence pack can include it and an
auditor can hash it again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, create_engine, event, select

from conftest import BACKENDS, pg_schema
from custos.ledger.policies import policy_text, remember_policy
from custos.store.metadata import metadata
from custos.store.tables import policies

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def conn(request: pytest.FixtureRequest) -> Iterator[Connection]:
    with ExitStack() as stack:
        url = "sqlite://" if request.param == "sqlite" else stack.enter_context(pg_schema())
        engine = create_engine(url)
        stack.callback(engine.dispose)
        metadata.create_all(engine, tables=[policies])
        with engine.connect() as connection:
            yield connection


def test_a_policy_text_is_kept_under_its_hash(conn: Connection) -> None:
    assert policy_text(conn, "sha256:a") is None
    remember_policy(conn, policy_hash="sha256:a", text="version: 1\n", now=NOW)
    remember_policy(conn, policy_hash="sha256:b", text="version: 2\n", now=NOW)
    assert policy_text(conn, "sha256:a") == "version: 1\n"
    assert policy_text(conn, "sha256:b") == "version: 2\n"
    assert policy_text(conn, "sha256:c") is None
    rows = conn.execute(select(policies).order_by(policies.c.hash)).all()
    assert [(r.hash, r.text) for r in rows] == [
        ("sha256:a", "version: 1\n"),
        ("sha256:b", "version: 2\n"),
    ]
    assert all(r.first_seen_at.replace(tzinfo=UTC) == NOW for r in rows)


def test_the_first_text_stored_under_a_hash_stays(conn: Connection) -> None:
    """Remembering a hash again changes nothing, not even its first sighting."""
    remember_policy(conn, policy_hash="sha256:a", text="version: 1\n", now=NOW)
    later = datetime(2026, 3, 2, tzinfo=UTC)
    remember_policy(conn, policy_hash="sha256:a", text="version: 9\n", now=later)
    assert policy_text(conn, "sha256:a") == "version: 1\n"
    row = conn.execute(select(policies)).one()
    assert row.first_seen_at.replace(tzinfo=UTC) == NOW


def test_a_concurrent_insert_of_the_same_hash_is_no_error(conn: Connection) -> None:
    """Two processes may both find the hash missing; the second insert then
    does nothing (here: the row arrives between the look-up and the insert)."""

    def sneak_in(connection: Connection, clauseelement: object, *args: object) -> None:
        if getattr(clauseelement, "is_insert", False) and not sneaked:
            sneaked.append(True)
            connection.execute(
                policies.insert().values(hash="sha256:a", text="other process\n", first_seen_at=NOW)
            )

    sneaked: list[bool] = []
    event.listen(conn, "before_execute", sneak_in)
    try:
        remember_policy(conn, policy_hash="sha256:a", text="version: 1\n", now=NOW)
    finally:
        event.remove(conn, "before_execute", sneak_in)
    assert sneaked == [True]
    assert policy_text(conn, "sha256:a") == "other process\n"


def test_a_known_hash_is_not_written_again(conn: Connection) -> None:
    """Only the first sighting writes: remembering a known hash (every case
    opened under the same policy) issues no INSERT, so it never takes the
    write path for nothing."""
    remember_policy(conn, policy_hash="sha256:a", text="version: 1\n", now=NOW)
    statements: list[str] = []

    def record(connection: Connection, clauseelement: object, *args: object) -> None:
        statements.append(type(clauseelement).__name__)

    event.listen(conn, "before_execute", record)
    try:
        remember_policy(conn, policy_hash="sha256:a", text="version: 1\n", now=NOW)
    finally:
        event.remove(conn, "before_execute", record)
    assert statements == ["Select"]
