"""The ledger tables alone (``ledger``, ``ledger_nodes``, ``tree_heads``),
filled with a small ledger, in an in-memory SQLite database or a fresh
PostgreSQL schema: for unit tests of the code that reads them (each engine
reads rows its own way)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from conftest import BACKENDS, pg_schema
from custos.ledger import merkle
from custos.ledger.signing import LedgerKey, TreeHead, key_id_of, sign_head
from custos.store.metadata import metadata
from custos.store.tables import ledger, ledger_nodes, tree_heads

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def new_key() -> LedgerKey:
    private = Ed25519PrivateKey.generate()
    return LedgerKey(key_id_of(private.public_key()), "t", private.public_key(), private)


KEY = new_key()
KEYS = {KEY.key_id: KEY.public}


class Ledger:
    def __init__(self, url: str, count: int) -> None:
        self.engine = create_engine(url)
        metadata.create_all(self.engine, tables=[ledger, ledger_nodes, tree_heads])
        self.conn = self.engine.connect()
        self.entries = [b'{"n":%d}' % n for n in range(count)]
        tree = merkle.MemoryTree()
        for index, data in enumerate(self.entries):
            leaf = merkle.leaf_hash(data)
            nodes = merkle.completed_nodes(index, leaf, tree)
            tree.append(leaf)
            self.conn.execute(
                ledger.insert().values(
                    seq=index + 1,
                    event_id=f"e{index}",
                    type="t",
                    occurred_at=NOW,
                    actor="a",
                    outcome="ok",
                    canonical=data.decode(),
                    leaf_index=index,
                    leaf_hash=leaf,
                )
            )
            for level, position, node in nodes:
                self.conn.execute(
                    ledger_nodes.insert().values(level=level, position=position, hash=node)
                )
        self.tree = tree

    def head(self, size: int) -> TreeHead:
        return sign_head(KEY, size, self.tree.root(size), NOW)

    def set(self, row: int, **values: object) -> None:
        self.conn.execute(ledger.update().where(ledger.c.seq == row).values(**values))


NewLedger = Callable[[int], Ledger]


@pytest.fixture(params=BACKENDS)
def new_ledger(request: pytest.FixtureRequest) -> Iterator[NewLedger]:
    with ExitStack() as stack:

        def make(count: int) -> Ledger:
            url = "sqlite://" if request.param == "sqlite" else stack.enter_context(pg_schema())
            book = Ledger(url, count)
            stack.callback(book.engine.dispose)
            stack.callback(book.conn.close)
            return book

        yield make
