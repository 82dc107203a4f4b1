"""Saved recovery codes (R-12).

A code is shown as ``K7QF-3D9X-W2HM-8RZT-V4NP``: the first group is a short,
non-secret lookup id (so a verification needs one hash check, not one per stored
code); the other four groups are the secret, 16 characters of Crockford base32
(80 bits from :mod:`secrets`). The alphabet has no I, L, O or U; on input, case,
spaces and dashes are ignored and O/I/L are read as 0/1/1.

Because 80 bits < 112 bits, codes are stored with a salted password hash:
argon2id at OWASP's minimum (m=19456 KiB, t=2, p=1). The hash covers the lookup
id and the secret. Single use, replacement and notification are the caller's.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOOKUP_CHARS: Final = 4
SECRET_CHARS: Final = 16
SECRET_BITS: Final = SECRET_CHARS * 5
GROUP: Final = 4
_MAX_INPUT: Final = 64
_READ_AS: Final = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})

HASHER: Final = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
# Hash of a random value nobody knows, with HASHER's parameters: dummy_verify()
# costs what a real verification costs (tests check the parameters match).
DUMMY_HASH: Final = (
    "$argon2id$v=19$m=19456,t=2,p=1$NCRrVTUXnZFYEoof7iISmw"
    "$zYJdf6QGvy45Jpf+6yB6jXS3PsdxWTc8rRGGwsVb7Xs"
)


@dataclass(frozen=True, slots=True)
class GeneratedCode:
    """A new code: show ``plain`` once; store ``lookup_id`` and ``hash``."""

    plain: str = field(repr=False)
    lookup_id: str
    hash: str


def generate_codes(count: int = 10, *, taken_ids: Collection[str] = ()) -> list[GeneratedCode]:
    """Return ``count`` new codes with distinct lookup ids, none in ``taken_ids``.

    Pass the subject's unused lookup ids as ``taken_ids`` when adding a
    replacement code, so lookup ids stay unique per subject.
    Raises ValueError unless 1 <= count <= 100.
    """
    if not 1 <= count <= 100:
        raise ValueError("count must be between 1 and 100")
    codes: list[GeneratedCode] = []
    seen: set[str] = {t.upper() for t in taken_ids}
    while len(codes) < count:
        lookup_id = _random_chars(LOOKUP_CHARS)
        if lookup_id in seen:
            continue
        seen.add(lookup_id)
        secret = _random_chars(SECRET_CHARS)
        canonical = lookup_id + secret
        plain = "-".join(canonical[i : i + GROUP] for i in range(0, len(canonical), GROUP))
        codes.append(GeneratedCode(plain=plain, lookup_id=lookup_id, hash=HASHER.hash(canonical)))
    return codes


def parse_code(text: str) -> tuple[str, str] | None:
    """Return ``(lookup_id, secret)`` in canonical form, or None if ``text`` is no code.

    Tolerates case, spaces, dashes and O/I/L for 0/1/1; does no hashing.
    """
    if len(text) > _MAX_INPUT:
        return None
    canonical = text.strip().upper().translate(_READ_AS)
    if len(canonical) != LOOKUP_CHARS + SECRET_CHARS or any(c not in ALPHABET for c in canonical):
        return None
    return canonical[:LOOKUP_CHARS], canonical[LOOKUP_CHARS:]


class _Tally:
    """A thread-safe count of the argon2 verifications this process ran."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


_checks = _Tally()


def hash_checks() -> int:
    """How many argon2 verifications (real or dummy) this process has run: the
    expensive step (19 MiB, tens of ms each) that throttles must guard."""
    return _checks.count


def verify_code(text: str, stored_hash: str) -> bool:
    """Return whether ``text`` is the code hashed in ``stored_hash``.

    False for unparseable text, a mismatch or an invalid hash; never raises for
    those. The caller looks ``stored_hash`` up by the parsed lookup id and calls
    :func:`dummy_verify` when there is none.
    """
    parsed = parse_code(text)
    if parsed is None:
        return False
    _checks.add()
    try:
        return HASHER.verify(stored_hash, parsed[0] + parsed[1])
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify() -> None:
    """Spend the time of one verification, for unknown lookup ids (R-19)."""
    _checks.add()
    with contextlib.suppress(VerificationError):
        HASHER.verify(DUMMY_HASH, "0" * (LOOKUP_CHARS + SECRET_CHARS))


def _random_chars(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))
