"""Alembic environment: the engine comes from ``custos.store.database.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from custos.store.schema import metadata

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
