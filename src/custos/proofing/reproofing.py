"""Repeated identity proofing: the rules a verified provider result must meet
(R-4, R-9, R-10, R-11). Pure: the JWT signature, issuer and audience are
checked before this module sees the claims (``custos.idv``), and the replay
store and clock are the caller's.

Claims of a result (besides ``iss``, ``aud``, ``sub``, ``iat``, ``exp``, ``jti``)::

    ial                   1, 2 or 3: the IAL the provider achieved
    attended              true when a trained agent attended the session
    biometric_comparison  true when a biometric sample was compared
    evidence              [{"strength": "FAIR"|"STRONG"|"SUPERIOR",
                            "cryptographically_verified": bool}, ...]
    verified_attributes   {"given_name": ..., "family_name": ..., "birthdate": ...,
                           "employee_id": ..., ...}

Core attributes are never stored in clear: a subject's proofed attributes are
kept as HMAC-SHA256 digests (key from ``MasterKey.subkey``) of their normalised
value, bound to the subject id and attribute name.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

#: Clock skew tolerated on ``iat``, ``nbf`` and ``exp``.
LEEWAY: Final = timedelta(seconds=30)
MIN_KEY_BYTES: Final = 16
MAX_ATTRIBUTES: Final = 32
_SPACES: Final = re.compile(r"\s+")
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")


class ReproofingRejected(Exception):
    """A result that does not re-proof the subject; ``reason`` says why (no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Strength(IntEnum):
    """Evidence strength of 800-63A-4, ordered."""

    FAIR = 1
    STRONG = 2
    SUPERIOR = 3


@dataclass(frozen=True, slots=True)
class Evidence:
    strength: Strength
    cryptographically_verified: bool = False

    @property
    def effective(self) -> Strength:
        """SUPERIOR evidence not verified cryptographically counts as STRONG (R-10)."""
        if self.strength == Strength.SUPERIOR and not self.cryptographically_verified:
            return Strength.STRONG
        return self.strength


@dataclass(frozen=True, slots=True)
class ProofingResult:
    """The claims of one verified result, typed."""

    issuer: str
    jti: str
    ial: int
    attended: bool
    biometric_comparison: bool
    evidence: tuple[Evidence, ...]
    attributes: Mapping[str, str] = field(repr=False)
    issued_at: datetime
    expires_at: datetime
    not_before: datetime | None = None


def parse_claims(claims: Mapping[str, object]) -> ProofingResult:
    """Type the claims of a verified JWT. Raises ReproofingRejected naming the
    first missing or malformed claim."""

    issuer, jti, ial = claims.get("iss"), claims.get("jti"), claims.get("ial")
    if not isinstance(issuer, str) or not isinstance(jti, str) or not jti:
        raise ReproofingRejected("claims 'iss' and 'jti' must be non-empty strings")
    if isinstance(ial, bool) or ial not in (1, 2, 3):
        raise ReproofingRejected("claim 'ial' must be 1, 2 or 3")
    assert isinstance(ial, int)
    evidence = [_evidence(item) for item in _list(claims.get("evidence"), "evidence")]
    raw_attributes = claims.get("verified_attributes")
    if not isinstance(raw_attributes, dict) or len(raw_attributes) > MAX_ATTRIBUTES:
        raise ReproofingRejected("claim 'verified_attributes' is missing or malformed")
    attributes = {str(k): str(v) for k, v in raw_attributes.items() if isinstance(v, str | int)}
    return ProofingResult(
        issuer=issuer,
        jti=jti,
        ial=ial,
        attended=claims.get("attended") is True,
        biometric_comparison=claims.get("biometric_comparison") is True,
        evidence=tuple(evidence),
        attributes=attributes,
        issued_at=_time(claims, "iat"),
        expires_at=_time(claims, "exp"),
        not_before=_time(claims, "nbf") if "nbf" in claims else None,
    )


def evidence_ial(evidence: tuple[Evidence, ...]) -> int:
    """The highest IAL the evidence alone supports: 0 (none), 1 (one FAIR or
    better, R-9) or 2 (one FAIR + one STRONG, or one SUPERIOR verified
    cryptographically, R-10). IAL3 further needs attendance and a biometric."""
    strengths = sorted((e.effective for e in evidence), reverse=True)
    if not strengths:
        return 0
    if strengths[0] == Strength.SUPERIOR or (
        strengths[0] >= Strength.STRONG and len(strengths) >= 2
    ):
        return 2
    return 1


def check_result(
    result: ProofingResult,
    *,
    now: datetime,
    max_age: timedelta,
    account_ial: int,
    min_ial: int | None,
) -> None:
    """Raise ReproofingRejected unless ``result`` is fresh (``iat`` within
    ``max_age``, ``nbf``/``exp`` around ``now``), reaches ``max(account_ial,
    min_ial)`` (R-4), is backed by its evidence (R-9, R-10) and, at IAL3, was
    attended with a biometric comparison (R-11)."""
    if result.issued_at > now + LEEWAY or now - result.issued_at > max_age:
        raise ReproofingRejected("the result is too old or issued in the future")
    if result.not_before is not None and result.not_before > now + LEEWAY:
        raise ReproofingRejected("the result is not valid yet")
    if result.expires_at <= now - LEEWAY:
        raise ReproofingRejected("the result has expired")
    required = max(account_ial, min_ial or 1)
    if result.ial < required:
        raise ReproofingRejected(
            f"IAL{result.ial} is below the IAL{required} this account requires (R-4)"
        )
    if result.ial == 3 and not (result.attended and result.biometric_comparison):
        raise ReproofingRejected(
            "an IAL3 result must come from an attended session with a biometric "
            "comparison; remote unattended results are refused (R-11)"
        )
    if evidence_ial(result.evidence) < min(result.ial, 2):
        raise ReproofingRejected(f"the evidence does not support IAL{result.ial} (R-9, R-10)")


def normalise(value: str) -> str:
    """Compatibility-normalised (NFKC), case-folded, whitespace collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()


def attribute_digest(key: bytes, *, subject_id: str, name: str, value: str) -> str:
    """HMAC-SHA256 hex of the normalised ``value`` of attribute ``name`` of
    ``subject_id``. Raises ValueError for a short key or a bad attribute name."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"key must be at least {MIN_KEY_BYTES} bytes")
    if not _NAME.fullmatch(name):
        raise ValueError(f"'{name}' is not an attribute name")
    message = b"custos/proofed-attribute/v1\x00"
    for part in (subject_id, name, normalise(value)):
        data = part.encode("utf-8")
        message += len(data).to_bytes(4, "big") + data
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mismatched_attributes(
    key: bytes, *, subject_id: str, stored: Mapping[str, str], claimed: Mapping[str, str]
) -> list[str]:
    """Names of the stored attributes (name -> digest) that ``claimed`` lacks or
    states differently, compared in constant time. Every stored attribute must
    match (R-4); an empty ``stored`` matches nothing (``["(none on file)"]``)."""
    if not stored:
        return ["(none on file)"]
    wrong: list[str] = []
    for name, digest in sorted(stored.items()):
        value = claimed.get(name)
        expected = (
            attribute_digest(key, subject_id=subject_id, name=name, value=value)
            if value is not None
            else ""
        )
        if not hmac.compare_digest(expected.encode(), digest.encode()):
            wrong.append(name)
    return wrong


def _list(value: object, name: str) -> list[object]:
    if not isinstance(value, list) or not value or len(value) > MAX_ATTRIBUTES:
        raise ReproofingRejected(f"claim '{name}' is missing or malformed")
    return value


def _evidence(item: object) -> Evidence:
    if not isinstance(item, dict) or item.get("strength") not in Strength.__members__:
        raise ReproofingRejected("an 'evidence' item names no FAIR, STRONG or SUPERIOR strength")
    return Evidence(
        strength=Strength[str(item["strength"])],
        cryptographically_verified=item.get("cryptographically_verified") is True,
    )


def _time(claims: Mapping[str, object], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ReproofingRejected(f"claim '{name}' is missing or malformed")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ReproofingRejected(f"claim '{name}' is out of range") from exc
