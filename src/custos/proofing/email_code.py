"""Issued one-time codes sent to a confirmed recovery contact (R-13, R-15).

A code is 8 digits from :mod:`secrets`, valid for :data:`CODE_TTL`. Only its
HMAC-SHA256 under a MAC key (e.g. ``MasterKey.subkey("email-code")``) is stored,
bound to the case id, so a code issued for one case never matches another.
Single use and expiry are the caller's to enforce with the store and clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Final

CODE_TTL: Final = timedelta(minutes=10)
CODE_DIGITS: Final = 8
MIN_KEY_BYTES: Final = 16
_CODE_RE: Final = re.compile(r"[0-9]{8}")


def new_code() -> str:
    """Return 8 digits (zero padded) drawn uniformly with :func:`secrets.randbelow`."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(mac_key: bytes, *, case_id: str, code: str) -> str:
    """Return the HMAC-SHA256 hex digest of ``code`` bound to ``case_id``.

    The message is length-prefixed so no (case id, code) pair collides with
    another. Raises ValueError when ``mac_key`` is shorter than 16 bytes.
    """
    if len(mac_key) < MIN_KEY_BYTES:
        raise ValueError(f"mac_key must be at least {MIN_KEY_BYTES} bytes")
    case = case_id.encode("utf-8")
    message = b"custos/email-code/v1\x00" + len(case).to_bytes(4, "big") + case + code.encode()
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()


def code_matches(mac_key: bytes, *, case_id: str, code: str, digest: str) -> bool:
    """Return whether ``code`` was issued for ``case_id`` with ``digest``.

    ``code`` must be 8 ASCII digits (spaces and dashes are ignored), else False.
    The digests are compared in constant time.
    """
    candidate = code.replace(" ", "").replace("-", "")
    if not _CODE_RE.fullmatch(candidate):
        return False
    expected = code_digest(mac_key, case_id=case_id, code=candidate)
    return hmac.compare_digest(expected.encode("ascii"), digest.encode("utf-8"))
