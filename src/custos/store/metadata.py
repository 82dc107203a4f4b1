"""The one SQLAlchemy ``MetaData`` every table of Custos is declared on, with
the naming convention the migrations use for constraints and indexes."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def timestamp(name: str, nullable: bool = True) -> Column[object]:
    """A timezone-aware timestamp column."""
    return Column(name, DateTime(timezone=True), nullable=nullable)
