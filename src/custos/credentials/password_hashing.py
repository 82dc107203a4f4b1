"""The argon2 hasher of passwords Custos itself checks (the built-in directory),
and the dummy check that costs what a real one does.

A sign-in for an identifier that matches nobody, or an account the directory
does not know, must take as long as a wrong password for a real one (R-19):
:func:`spend_one_verification` runs one verification with the same parameters
against the hash of a random value nobody knows.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: argon2id with the library's defaults (RFC 9106's low-memory choice).
HASHER: Final = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_hex(16))


def spend_one_verification(password: str) -> None:
    """Cost what verifying ``password`` against a stored hash costs; never matches,
    never raises."""
    with suppress(VerificationError, InvalidHashError):
        HASHER.verify(_dummy_hash(), password)
