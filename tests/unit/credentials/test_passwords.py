"""New-password rules and temporary passwords (63B-4 §3.1.1, R-8, R-17)."""

from __future__ import annotations

import secrets

import pytest

from custos.credentials import passwords
from custos.credentials.passwords import (
    MAX_LENGTH,
    TEMP_ALPHABET,
    assess_new_password,
    check_new_password,
    generate_temporary_password,
)
from custos.domain.errors import PasswordRejected

STRONG_15 = "vixen-quartz-bl"  # 15 code points, unguessable enough
STRONG_8 = "qX7#vL2!"
STRONG_10 = "qX7#vL2!mW"


def reasons_for(password: str, **kwargs: object) -> list[str]:
    with pytest.raises(PasswordRejected) as caught:
        check_new_password(password, **kwargs)  # type: ignore[arg-type]
    reasons = caught.value.details["reasons"]
    assert isinstance(reasons, list)
    return reasons


def test_accepts_strong_15_characters_without_mfa() -> None:
    check_new_password(STRONG_15, mfa_bound=False)


def test_rejects_14_characters_without_mfa() -> None:
    reasons = reasons_for("vixen-quartz-b", mfa_bound=False)
    assert "must be at least 15 characters long" in reasons


def test_accepts_strong_8_characters_with_mfa() -> None:
    """With MFA bound, a random 8-character password passes (63B-4 §3.1.1).

    zxcvbn caps brute-force guesses of n characters at 10**n, so no 8-character
    password reaches score 3: with MFA bound the bar is score 2.
    """
    check_new_password(STRONG_8, mfa_bound=True)


def test_rejects_common_8_characters_with_mfa() -> None:
    assert any("guess" in r for r in reasons_for("password", mfa_bound=True))


def test_accepts_strong_10_characters_with_mfa() -> None:
    check_new_password(STRONG_10, mfa_bound=True)


def test_rejects_strong_10_characters_without_mfa() -> None:
    assert "must be at least 15 characters long" in reasons_for(STRONG_10, mfa_bound=False)


def test_rejects_8_characters_without_mfa() -> None:
    reasons = reasons_for(STRONG_8, mfa_bound=False)
    assert "must be at least 15 characters long" in reasons


def test_rejects_7_characters_with_mfa() -> None:
    reasons = reasons_for("qX7#vL2", mfa_bound=True)
    assert "must be at least 8 characters long" in reasons


def test_counts_code_points_after_nfkc() -> None:
    """Length is counted in code points after NFKC: 'ﬃ' (1) becomes 'ffi' (3)."""
    # 13 code points as typed, 15 after NFKC normalisation.
    password = "ﬃzqv-quartz-b"
    assert len(password) == 13
    check_new_password(password, mfa_bound=False)


def test_counts_combining_sequence_as_composed_code_point() -> None:
    # 'e' + combining acute is one code point after NFKC, so 14 chars -> too short.
    password = "vixen-quartz-" + "e\u0301"
    assert len(password) == 15
    reasons = reasons_for(password, mfa_bound=False)
    assert "must be at least 15 characters long" in reasons


def test_rejects_more_than_256_characters() -> None:
    password = generate_temporary_password(MAX_LENGTH) + "x"
    reasons = reasons_for(password, mfa_bound=False)
    assert reasons == ["must be at most 256 characters long"]


def test_accepts_exactly_256_characters() -> None:
    check_new_password(generate_temporary_password(MAX_LENGTH), mfa_bound=False)


def test_rejects_weak_password_despite_length() -> None:
    reasons = reasons_for("password123456789", mfa_bound=False)
    assert any("too easy to guess" in r for r in reasons)


def test_rejects_repetitive_long_password() -> None:
    reasons = reasons_for("a" * 40, mfa_bound=False)
    assert any("too easy to guess" in r for r in reasons)


def test_rejects_password_containing_name_case_insensitively() -> None:
    reasons = reasons_for("zq7-Wobblestein-vixen", mfa_bound=False, user_inputs=["wobblestein"])
    assert "must not contain your name, email address or account identifiers" in reasons


def test_rejects_password_containing_email_local_part() -> None:
    reasons = reasons_for(
        "quartz-MARGOLIS-vixen-99", mfa_bound=False, user_inputs=["e.margolis@example.org"]
    )
    assert "must not contain your name, email address or account identifiers" in reasons


def test_ignores_user_inputs_shorter_than_4() -> None:
    check_new_password(STRONG_15, mfa_bound=False, user_inputs=["bl", "qua", ""])


def test_passes_user_inputs_to_zxcvbn(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake(password: str, user_inputs: list[str], max_length: int) -> dict[str, object]:
        seen["user_inputs"] = user_inputs
        return {"score": 4}

    monkeypatch.setattr(passwords, "zxcvbn", fake)
    check_new_password(STRONG_15, mfa_bound=False, user_inputs=["Ann Lee", "ann@x.io", "u-1"])
    assert seen["user_inputs"] == ["Ann Lee", "ann@x.io", "u-1"]


def test_lists_every_failure_at_once() -> None:
    reasons = reasons_for("jo", mfa_bound=True, user_inputs=["jo"])
    assert "must be at least 8 characters long" in reasons
    assert any("too easy to guess" in r for r in reasons)
    with pytest.raises(PasswordRejected) as caught:
        check_new_password("password", mfa_bound=False, user_inputs=["password"])
    message = caught.value.message
    assert "at least 15" in message
    assert "too easy to guess" in message
    assert "must not contain" in message
    listed = caught.value.details["reasons"]
    assert isinstance(listed, list) and len(listed) == 3


@pytest.mark.parametrize(
    ("password", "user_inputs"),
    [
        ("password123456789", []),
        ("hunter2", []),
        ("Wobblestein2024!", ["Wobblestein"]),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", []),
        ("x" * 300, []),
        ("a", []),
    ],
)
def test_reasons_never_contain_the_password(password: str, user_inputs: list[str]) -> None:
    """R-37: a rejection never echoes the password (nor a user input)."""
    with pytest.raises(PasswordRejected) as caught:
        check_new_password(password, mfa_bound=False, user_inputs=user_inputs)
    error = caught.value
    reasons = error.details["reasons"]
    assert isinstance(reasons, list)
    texts = [error.message, str(error), repr(error.details), *reasons]
    for text in texts:
        if len(password) >= 4:
            assert password not in text
        for user_input in user_inputs:
            assert user_input.lower() not in text.lower()


def test_error_has_stable_id() -> None:
    with pytest.raises(PasswordRejected) as caught:
        check_new_password("short", mfa_bound=False)
    assert caught.value.error_id == "password_rejected"


def test_temporary_password_passes_policy() -> None:
    """R-17: a temporary password meets the no-MFA policy (it must be changed at first use)."""
    for _ in range(20):
        check_new_password(generate_temporary_password(), mfa_bound=False)


def test_temporary_password_has_requested_length_and_alphabet() -> None:
    password = generate_temporary_password(32)
    assert len(password) == 32
    assert set(password) <= set(TEMP_ALPHABET)


def test_temporary_password_alphabet_has_no_look_alikes() -> None:
    assert not set(TEMP_ALPHABET) & set("0O1lI|5S2Z8Bo")


def test_temporary_password_holds_upper_lower_and_digit() -> None:
    for _ in range(50):
        password = generate_temporary_password(15)
        assert any(c.isupper() for c in password)
        assert any(c.islower() for c in password)
        assert any(c.isdigit() for c in password)


def test_temporary_password_never_repeats() -> None:
    assert len({generate_temporary_password() for _ in range(200)}) == 200


def test_temporary_password_default_has_over_100_bits() -> None:
    """20 characters over a 47-symbol alphabet: about 111 bits."""
    import math

    assert 20 * math.log2(len(TEMP_ALPHABET)) > 100


@pytest.mark.parametrize("length", [0, 8, 14, 257])
def test_temporary_password_rejects_out_of_range_length(length: int) -> None:
    with pytest.raises(ValueError, match="length"):
        generate_temporary_password(length)


def test_temporary_password_uses_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = secrets.choice

    def spy(seq: str) -> str:
        calls.append(seq)
        choice: str = real(seq)
        return choice

    monkeypatch.setattr(secrets, "choice", spy)
    generate_temporary_password(15)
    assert len(calls) >= 15


def test_rejection_lists_every_reason_and_the_limits() -> None:
    """R-17: the message and details name each failed rule and the length limits
    (never the password)."""
    with pytest.raises(PasswordRejected) as caught:
        check_new_password("kimberly1", mfa_bound=False, user_inputs=["Kimberly"])
    assert caught.value.message == (
        "password rejected: it must be at least 15 characters long; "
        "it must not contain your name, email address or account identifiers; "
        "it is too easy to guess; use a longer passphrase of uncommon words"
    )
    assert caught.value.details == {
        "reasons": [
            "must be at least 15 characters long",
            "must not contain your name, email address or account identifiers",
            "is too easy to guess; use a longer passphrase of uncommon words",
        ],
        "min_length": 15,
        "max_length": MAX_LENGTH,
    }


def test_weak_long_password_is_refused_without_a_second_factor() -> None:
    """Score 3 is the bar without MFA, 2 with it: the same guessable passphrase
    passes only with a bound second factor."""
    weak = "sunshine20242024"  # zxcvbn score 2
    with pytest.raises(PasswordRejected) as caught:
        check_new_password(weak, mfa_bound=False)
    assert caught.value.details["min_length"] == 15
    check_new_password(weak, mfa_bound=True)


def test_user_input_of_exactly_four_characters_is_refused() -> None:
    """The shortest name part looked for is four characters."""
    with pytest.raises(PasswordRejected):
        check_new_password("zq7!Vx-Ivan-w9#Lp2", mfa_bound=True, user_inputs=["Ivan Q"])
    check_new_password("zq7!Vx-Iva-w9#Lp2Tk", mfa_bound=True, user_inputs=["Iva Q"])


def test_temporary_password_draws_again_until_it_has_every_character_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A draw without upper case, lower case and a digit is thrown away, not returned."""
    first = ["a"] * 20
    second = list("Qm7xTr4pWk9zNc3vHd7y")
    draws = iter(first + second)
    monkeypatch.setattr(
        "custos.credentials.passwords.secrets.choice", lambda _alphabet: next(draws)
    )
    assert generate_temporary_password(20) == "".join(second)


def test_temporary_password_is_20_characters_by_default() -> None:
    """R-17: the default temporary password is 20 characters (about 111 bits)."""
    assert len(generate_temporary_password()) == 20


def test_temporary_password_is_never_one_only_a_second_factor_would_allow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R-17: a temporary password must pass the rules without a second factor
    (score 3): a draw that only the bar with MFA (score 2) accepts is thrown
    away and drawn again, never handed out, and never ends the drawing."""
    guessable = "Aaaaaaaaaaaaaa9"  # upper, lower and digit; zxcvbn score 2
    assert assess_new_password(guessable, mfa_bound=True).acceptable
    refused = assess_new_password(guessable, mfa_bound=False)
    assert (refused.acceptable, refused.score, refused.min_length) == (False, 2, 15)
    strong = "Qm7xTr4pWk9zNc3"
    draws = iter(list(guessable) + list(strong))
    monkeypatch.setattr(
        "custos.credentials.passwords.secrets.choice", lambda _alphabet: next(draws)
    )
    assert generate_temporary_password(15) == strong


def test_empty_password_scores_zero_without_asking_zxcvbn(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> dict[str, object]:
        raise AssertionError("zxcvbn asked about an empty password")

    monkeypatch.setattr(passwords, "zxcvbn", refuse)
    verdict = assess_new_password("", mfa_bound=True)
    assert (verdict.score, verdict.min_length, verdict.acceptable) == (0, 8, False)
    assert verdict.reasons == ("must be at least 8 characters long",)


def test_zxcvbn_scores_only_the_first_72_code_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """zxcvbn is quadratic in the length: it is given the first 72 code points
    of the normalised password and told that cap, so a guessable start is
    rejected whatever follows."""
    seen: dict[str, object] = {}

    def fake(password: str, user_inputs: list[str], max_length: int) -> dict[str, object]:
        seen.update(password=password, max_length=max_length)
        return {"score": 4}

    monkeypatch.setattr(passwords, "zxcvbn", fake)
    long = "".join(chr(ord("a") + i % 26) for i in range(100))
    assess_new_password(long, mfa_bound=False)
    assert seen == {"password": long[:72], "max_length": 72}
