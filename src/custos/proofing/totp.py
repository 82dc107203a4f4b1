"""TOTP proofing (RFC 6238: SHA-1, 6 digits, 30 s steps; R-15).

Verification accepts the current step and one step either side, and refuses a
step at or before the last step already used, so a code works once.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Final

import pyotp

STEP_SECONDS: Final = 30
DIGITS: Final = 6
WINDOW: Final = 1
_CODE_RE: Final = re.compile(r"[0-9]{6}")


def new_totp_secret() -> str:
    """Return a new base32 secret of 160 bits (32 characters) from :mod:`secrets`."""
    return str(pyotp.random_base32(length=32))


def provisioning_uri(secret: str, account_name: str, issuer: str = "Custos") -> str:
    """Return the ``otpauth://totp/...`` URI for enrolling ``secret`` in an app."""
    return str(pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer))


def verify_totp(secret: str, code: str, *, now: datetime, last_used_step: int | None) -> int | None:
    """Return the time step ``code`` matches, or None.

    ``code`` must be 6 ASCII digits (spaces are ignored), else None at once.
    Steps ``now``-1 to ``now``+1 are tried, each compared in constant time; a
    step <= ``last_used_step`` is refused (replay). The caller stores the
    returned step as the new ``last_used_step``. Raises ValueError when ``now``
    is naive or ``secret`` is not base32.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    candidate = code.replace(" ", "")
    if not _CODE_RE.fullmatch(candidate):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    matched: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        expected = str(totp.generate_otp(step))
        fresh = last_used_step is None or step > last_used_step
        if hmac.compare_digest(expected.encode(), candidate.encode()) and fresh and matched is None:
            matched = step
    return matched
