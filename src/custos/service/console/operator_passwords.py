"""Operators' console passwords: argon2id hashes (the hasher of the built-in
directory, ``credentials/password_hashing``) and the new-password rules of
``credentials/passwords`` at their strictest (15 characters, zxcvbn score 3, not
the operator's name), since a console account can decide recoveries.
A temporary password handed out by an admin must be changed at its first use."""

from __future__ import annotations

from argon2.exceptions import InvalidHashError, VerificationError

from custos.credentials.password_hashing import HASHER, spend_one_verification
from custos.credentials.passwords import MAX_LENGTH, check_new_password
from custos.domain.model import Operator


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; with no hash (the operator has
    no password), a dummy check of the same cost that never matches (R-19)."""
    if stored_hash is None or not password or len(password) > MAX_LENGTH:
        spend_one_verification(password[:MAX_LENGTH])
        return False
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_rules(operator: Operator, password: str) -> None:
    """Raises PasswordRejected listing every rule ``password`` breaks."""
    check_new_password(password, mfa_bound=False, user_inputs=[operator.name, operator.person])
