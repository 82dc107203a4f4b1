"""The built-in directory as a contract-suite target (a SQLite file, migrated)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_harness import Harness

from custos.connectors.builtin import BuiltinDirectory
from custos.store.database import make_engine, upgrade


def strong_password() -> str:
    return "Aa1-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="session")
def builtin_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("builtin")
    engine = make_engine(f"sqlite:///{folder / 'directory.db'}")
    upgrade(engine)
    directory = BuiltinDirectory("directory", engine)

    def create() -> tuple[str, str]:
        account, password = f"user-{secrets.token_hex(4)}", strong_password()
        directory.create_account(account, password)
        return account, password

    yield Harness(
        kind="builtin",
        connector=directory,
        create_account=create,
        can_login=lambda account, password: (
            directory.verify_password(account, password)
            and bool((info := directory.find_account(account)) and info.enabled)
        ),
        strong_password=strong_password,
    )
    engine.dispose()
