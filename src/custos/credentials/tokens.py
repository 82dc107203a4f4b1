"""One-time reset tokens and operator API tokens (R-17).

A token is ``<prefix>_<43 urlsafe base64 characters>``: 32 bytes (256 bits) from
:func:`secrets.token_urlsafe`. Prefixes: ``crt`` for reset tokens, ``cop`` for
operator API tokens. Only the digest is stored.

Why a fast hash: a salted, slow password hash protects *low-entropy* secrets
against offline guessing. A 256-bit random token cannot be guessed whatever the
hash speed, so SHA-256 is enough, and an unsalted digest lets the store look a
token up by its digest with one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Final

TOKEN_BYTES: Final = 32
RESET_PREFIX: Final = "crt"
OPERATOR_PREFIX: Final = "cop"
_PREFIX_RE: Final = re.compile(r"[a-z]{2,8}")
_TOKEN_RE: Final = re.compile(r"([a-z]{2,8})_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued token: hand ``plain`` to its holder once, store ``digest``."""

    plain: str = field(repr=False)
    digest: str


def issue_token(prefix: str = RESET_PREFIX) -> IssuedToken:
    """Return a new token with 256 bits from :mod:`secrets` and its digest.

    Raises ValueError unless ``prefix`` is 2 to 8 lower-case ASCII letters.
    """
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError("token prefix must be 2 to 8 lower-case ASCII letters")
    plain = f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"
    return IssuedToken(plain=plain, digest=token_digest(plain))


def token_digest(plain: str) -> str:
    """Return the SHA-256 hex digest (64 characters) of ``plain`` as UTF-8."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def token_matches(plain: str, digest: str) -> bool:
    """Return whether ``plain`` hashes to ``digest``, compared in constant time."""
    return hmac.compare_digest(token_digest(plain).encode("ascii"), digest.encode("utf-8"))


def looks_like_token(text: str, *, prefix: str | None = None) -> bool:
    """Cheap shape check, to reject junk before touching the store.

    True when ``text`` has the shape of an issued token (and, if ``prefix`` is
    given, that prefix). Says nothing about whether the token is valid.
    """
    if len(text) > 64:
        return False
    match = _TOKEN_RE.fullmatch(text)
    return match is not None and (prefix is None or match.group(1) == prefix)
