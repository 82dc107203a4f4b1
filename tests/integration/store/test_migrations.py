"""The Alembic migrations create exactly the tables the code declares, on
SQLite and PostgreSQL, and upgrading twice is harmless."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from conftest import World
from custos.store.database import upgrade
from custos.store.schema import metadata


def test_migrations_match_the_declared_tables(world: World) -> None:
    with world.svc.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_upgrade_twice_changes_nothing(world: World) -> None:
    before = sorted(inspect(world.svc.engine).get_table_names())
    upgrade(world.svc.engine)
    assert sorted(inspect(world.svc.engine).get_table_names()) == before
    assert set(metadata.tables) <= set(before)
