"""Revision 0006 moves the JSON contacts of existing subjects into subject_contacts
(confirmed ones confirmed) and gives existing TOTP enrolments their history row
(R-14, R-36), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from conftest import BACKENDS, pg_schema
from custos.store.database import make_engine, upgrade

CREATED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def engine_at_0005(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, "0005")
        yield engine
        engine.dispose()
        return
    with pg_schema() as url:
        engine = make_engine(url)
        upgrade(engine, "0005")
        try:
            yield engine
        finally:
            engine.dispose()


def test_json_contacts_move_to_their_own_table(engine_at_0005: Engine) -> None:
    with engine_at_0005.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subjects (id, display_name, kind, employment, privileged, groups, "
                "contacts, holds, mfa_bound, time_zone, created_at) VALUES ('bob', 'Bob', "
                "'human', 'employee', false, '[]', :contacts, '[]', true, 'UTC', :at)"
            ),
            {
                "contacts": '[{"kind": "email", "address": "bob@example.org", "confirmed": true},'
                ' {"kind": "email", "address": "bob@old.example.org", "confirmed": false}]',
                "at": CREATED,
            },
        )
        conn.execute(
            text(
                "INSERT INTO totp_enrolments (subject_id, sealed_secret, enrolled_at) "
                "VALUES ('bob', :blob, :at)"
            ),
            {"blob": b"sealed", "at": CREATED},
        )
    upgrade(engine_at_0005, "0006")
    columns = {c["name"] for c in inspect(engine_at_0005).get_columns("subjects")}
    assert "contacts" not in columns
    with engine_at_0005.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT address, confirmed_at IS NOT NULL FROM subject_contacts "
                "WHERE subject_id = 'bob' ORDER BY address"
            )
        ).all()
        history = conn.execute(
            text("SELECT kind, bound_by, revoked_at FROM authenticators WHERE subject_id = 'bob'")
        ).all()
    assert [tuple(r) for r in rows] == [("bob@example.org", True), ("bob@old.example.org", False)]
    assert [tuple(r) for r in history] == [("totp", "system:migration", None)]
