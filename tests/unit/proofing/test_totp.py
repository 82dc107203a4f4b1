"""TOTP proofing (R-15: 30 s steps, single use)."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from custos.proofing import totp
from custos.proofing.totp import new_totp_secret, provisioning_uri, verify_totp

FIXED_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2025, 6, 1, 12, 0, 15, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30

FULL_WIDTH = "\uff11\uff12\uff13\uff14\uff15\uff16"  # digits, but not ASCII


@pytest.fixture
def secret() -> str:
    return new_totp_secret()


def code_at(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret).generate_otp(step))


def test_new_secret_has_160_bits() -> None:
    secret = new_totp_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20


def test_new_secret_never_repeats() -> None:
    assert len({new_totp_secret() for _ in range(500)}) == 500


def test_provisioning_uri_names_issuer_and_account(secret: str) -> None:
    uri = provisioning_uri(secret, "alice@example.com")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    query = parse_qs(parsed.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["Custos"]
    assert "alice%40example.com" in parsed.path or "alice@example.com" in parsed.path


def test_provisioning_uri_custom_issuer(secret: str) -> None:
    assert "issuer=Acme" in provisioning_uri(secret, "bob", issuer="Acme")


def test_verify_accepts_current_step(secret: str) -> None:
    """R-15: a code for the current 30 s step is accepted and its step returned."""
    assert verify_totp(secret, code_at(secret, STEP), now=NOW, last_used_step=None) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_verify_accepts_adjacent_step_window(secret: str, offset: int) -> None:
    """R-15: one step of clock drift either side is tolerated."""
    code = code_at(secret, STEP + offset)
    assert verify_totp(secret, code, now=NOW, last_used_step=None) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_verify_refuses_step_outside_window(offset: int) -> None:
    """R-15: codes older or newer than one step are refused."""
    code = code_at(FIXED_SECRET, STEP + offset)
    # A fixed secret whose codes at these steps differ from the window's (checked
    # here, so a collision is a visible failure, never a silent skip).
    assert code not in {code_at(FIXED_SECRET, STEP + d) for d in (-1, 0, 1)}
    assert verify_totp(FIXED_SECRET, code, now=NOW, last_used_step=None) is None


def test_verify_refuses_replay_of_used_step(secret: str) -> None:
    """R-15: a code works once: its step at or before last_used_step is refused."""
    code = code_at(secret, STEP)
    used = verify_totp(secret, code, now=NOW, last_used_step=None)
    assert used == STEP
    assert verify_totp(secret, code, now=NOW, last_used_step=used) is None
    later = NOW + timedelta(seconds=20)
    assert verify_totp(secret, code, now=later, last_used_step=used) is None


def test_verify_refuses_step_before_last_used(secret: str) -> None:
    """R-15: an older code is refused once a newer step has been used."""
    code = code_at(secret, STEP - 1)
    assert verify_totp(secret, code, now=NOW, last_used_step=STEP) is None


def test_verify_accepts_step_after_last_used(secret: str) -> None:
    code = code_at(secret, STEP + 1)
    assert verify_totp(secret, code, now=NOW, last_used_step=STEP) == STEP + 1


def test_verify_refuses_wrong_code(secret: str) -> None:
    valid = {code_at(secret, STEP + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)
    assert verify_totp(secret, wrong, now=NOW, last_used_step=None) is None


def test_verify_refuses_code_of_other_secret(secret: str) -> None:
    window = {code_at(secret, STEP + d) for d in (-1, 0, 1)}
    # Another secret whose code differs from this window's (a 1-in-300,000 clash
    # is drawn again rather than skipped).
    code = next(c for c in (code_at(new_totp_secret(), STEP) for _ in range(10)) if c not in window)
    assert verify_totp(secret, code, now=NOW, last_used_step=None) is None


@pytest.mark.parametrize(
    "code", ["", "12345", "1234567", "12a456", FULL_WIDTH, "-12345", "12345\n"]
)
def test_verify_rejects_non_six_digit_codes_early(
    secret: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("TOTP computed for a malformed code")

    monkeypatch.setattr(pyotp, "TOTP", boom)
    assert verify_totp(secret, code, now=NOW, last_used_step=None) is None


def test_verify_ignores_spaces_in_code(secret: str) -> None:
    code = code_at(secret, STEP)
    assert verify_totp(secret, f"{code[:3]} {code[3:]}", now=NOW, last_used_step=None) == STEP


def test_verify_uses_constant_time_compare(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verify_totp(secret, code_at(secret, STEP), now=NOW, last_used_step=None)
    assert len(calls) == 3


def test_verify_rejects_naive_now(secret: str) -> None:
    with pytest.raises(ValueError, match="timezone"):
        verify_totp(secret, "123456", now=datetime(2025, 1, 1), last_used_step=None)


def test_verify_same_result_in_other_timezone(secret: str) -> None:
    from datetime import timezone

    paris = NOW.astimezone(timezone(timedelta(hours=2)))
    assert verify_totp(secret, code_at(secret, STEP), now=paris, last_used_step=None) == STEP


def test_step_is_30_seconds() -> None:
    """R-15: TOTP step <= 30 s."""
    assert totp.STEP_SECONDS == 30
