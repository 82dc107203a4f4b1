"""The dummy password check (credentials/password_hashing.py): a sign-in for
nobody costs one real argon2 verification and never matches or raises (R-19)."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher

from custos.credentials import password_hashing


class Counting(PasswordHasher):
    """The same hasher, counting what it verifies."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[tuple[str, str]] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append((str(hash), str(password)))
        return super().verify(hash, password)


@pytest.mark.parametrize("password", ["", "hunter2", "ä" * 64])
def test_spend_one_verification_runs_one_real_check_and_never_raises(
    monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    """R-19: the unknown identifier costs what a wrong password costs: one argon2id
    verification of the given password against a real hash, swallowed."""
    counting = Counting()
    monkeypatch.setattr(password_hashing, "HASHER", counting)
    password_hashing.spend_one_verification(password)  # must not raise
    assert len(counting.verified) == 1
    dummy, given = counting.verified[0]
    assert dummy.startswith("$argon2id$")
    assert given == password
