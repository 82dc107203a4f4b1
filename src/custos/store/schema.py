"""Every table of the database, for Alembic and the schema test: the store's
own (``store/tables.py``) and the built-in directory's
(``connectors/builtin_tables.py``), all declared on one ``MetaData``."""

from __future__ import annotations

from custos.connectors import builtin_tables
from custos.store import rotation_tables, tables, tap_tables
from custos.store.metadata import metadata

__all__ = ["DECLARING", "metadata"]

#: The modules that declare tables on ``metadata`` (imported for that).
DECLARING = (tables, builtin_tables, rotation_tables, tap_tables)
