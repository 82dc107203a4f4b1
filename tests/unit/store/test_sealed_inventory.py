"""The inventory of sealed columns is complete: every binary column of the
store is either listed as sealed (and re-sealed by a key rotation) or named as
holding no secret. A new sealed column missing here would keep its values
under a retired key."""

from __future__ import annotations

from sqlalchemy import LargeBinary

from custos.store.metadata import metadata
from custos.store.sealed_inventory import NOT_SEALED, SEALED_COLUMNS


def test_every_binary_column_is_in_the_inventory_or_named_unsealed() -> None:
    binary = {
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    sealed = {col.name for col in SEALED_COLUMNS}
    assert binary == sealed | NOT_SEALED
    assert not sealed & NOT_SEALED


def test_each_sealed_table_has_a_single_column_key() -> None:
    for col in SEALED_COLUMNS:
        assert [c.name for c in col.table.primary_key.columns] == [col.key], col.name
