"""Issued one-time codes to a confirmed contact (R-13, R-15)."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

import pytest

from custos.credentials.keys import MasterKey
from custos.proofing.email_code import CODE_TTL, code_digest, code_matches, new_code

FULL_WIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"  # digits, but not ASCII


@pytest.fixture
def key() -> bytes:
    return MasterKey.generate().subkey("email-code")


def test_new_code_is_8_digits() -> None:
    """R-13, R-15: issued codes have at least 6 digits."""
    for _ in range(200):
        code = new_code()
        assert len(code) == 8
        assert code.isascii() and code.isdigit()


def test_new_code_is_zero_padded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "randbelow", lambda n: 42)
    assert new_code() == "00000042"


def test_new_code_draws_uniformly_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[int] = []
    real = secrets.randbelow

    def spy(n: int) -> int:
        bounds.append(n)
        return real(n)

    monkeypatch.setattr(secrets, "randbelow", spy)
    new_code()
    assert bounds == [10**8]


def test_code_ttl_is_at_most_10_minutes() -> None:
    """R-15: out-of-band secrets live at most 10 minutes."""
    assert timedelta(0) < CODE_TTL <= timedelta(minutes=10)


def test_code_matches_for_same_case(key: bytes) -> None:
    code = new_code()
    digest = code_digest(key, case_id="case-1", code=code)
    assert code_matches(key, case_id="case-1", code=code, digest=digest)


def test_code_does_not_match_other_case(key: bytes) -> None:
    """R-15: a code is bound to the request (case) that made it."""
    code = new_code()
    digest = code_digest(key, case_id="case-1", code=code)
    assert not code_matches(key, case_id="case-2", code=code, digest=digest)


def test_case_binding_is_unambiguous(key: bytes) -> None:
    assert code_digest(key, case_id="case-1", code="23456789") != code_digest(
        key, case_id="case-12", code="3456789"
    )


def test_code_does_not_match_other_key(key: bytes) -> None:
    code = new_code()
    digest = code_digest(key, case_id="case-1", code=code)
    other = MasterKey.generate().subkey("email-code")
    assert not code_matches(other, case_id="case-1", code=code, digest=digest)


def test_code_does_not_match_wrong_code(key: bytes) -> None:
    digest = code_digest(key, case_id="case-1", code="12345678")
    assert not code_matches(key, case_id="case-1", code="12345679", digest=digest)


def test_digest_never_contains_code(key: bytes) -> None:
    """R-13: only a keyed digest of the code is stored."""
    code = "12345678"
    digest = code_digest(key, case_id="case-1", code=code)
    assert code not in digest
    assert len(digest) == 64


def test_code_matches_tolerates_spaces_and_dashes(key: bytes) -> None:
    digest = code_digest(key, case_id="case-1", code="12345678")
    assert code_matches(key, case_id="case-1", code="1234 5678", digest=digest)
    assert code_matches(key, case_id="case-1", code="1234-5678", digest=digest)


@pytest.mark.parametrize("code", ["", "1234567", "123456789", "1234567a", FULL_WIDTH])
def test_code_matches_false_for_malformed_code(key: bytes, code: str) -> None:
    digest = code_digest(key, case_id="case-1", code=code)
    assert not code_matches(key, case_id="case-1", code=code, digest=digest)


@pytest.mark.parametrize("digest", ["", "zz", "é" * 64])
def test_code_matches_false_for_junk_digest(key: bytes, digest: str) -> None:
    assert not code_matches(key, case_id="case-1", code="12345678", digest=digest)


def test_code_matches_uses_constant_time_compare(
    key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(a)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    digest = code_digest(key, case_id="case-1", code="12345678")
    assert code_matches(key, case_id="case-1", code="12345678", digest=digest)
    assert len(calls) == 1


def test_code_digest_rejects_short_key() -> None:
    with pytest.raises(ValueError, match="mac_key"):
        code_digest(b"short", case_id="case-1", code="12345678")
