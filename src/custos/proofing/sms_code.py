"""Issued one-time codes sent by SMS to a confirmed phone contact (R-13, R-15, R-44).

Like :mod:`custos.proofing.email_code`: 8 digits from :mod:`secrets`, only the
HMAC-SHA256 stored, bound to the case id with its own domain separator (an email
code never verifies as an SMS code), valid :data:`CODE_TTL` = 10 minutes (the
800-63B limit for SMS, R-13), single use enforced by the store. SMS recovery is
refused while a SIM-swap or porting signal is recent (R-44); that check is the
service layer's (``service/notices/sms.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Final

from custos.proofing.email_code import MIN_KEY_BYTES, new_code

CODE_TTL: Final = timedelta(minutes=10)
_CODE_RE: Final = re.compile(r"[0-9]{8}")

__all__ = ["CODE_TTL", "code_digest", "code_matches", "dummy_match", "new_code"]


def code_digest(mac_key: bytes, *, case_id: str, code: str) -> str:
    """HMAC-SHA256 hex of ``code`` bound to ``case_id`` (length-prefixed).
    Raises ValueError when ``mac_key`` is shorter than 16 bytes."""
    if len(mac_key) < MIN_KEY_BYTES:
        raise ValueError(f"mac_key must be at least {MIN_KEY_BYTES} bytes")
    case = case_id.encode("utf-8")
    message = b"custos/sms-code/v1\x00" + len(case).to_bytes(4, "big") + case + code.encode()
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()


def code_matches(mac_key: bytes, *, case_id: str, code: str, digest: str) -> bool:
    """Whether ``code`` (8 digits; spaces and dashes ignored) was issued for
    ``case_id`` with ``digest``; compared in constant time."""
    candidate = code.replace(" ", "").replace("-", "")
    if not _CODE_RE.fullmatch(candidate):
        return False
    expected = code_digest(mac_key, case_id=case_id, code=candidate)
    return hmac.compare_digest(expected.encode("ascii"), digest.encode("utf-8"))


def dummy_match(mac_key: bytes) -> None:
    """Spend one verification's worth of HMAC for a request with no code behind
    it, so an unknown account costs what a known one does (R-19)."""
    code_matches(mac_key, case_id="-", code="00000000", digest="0" * 64)
