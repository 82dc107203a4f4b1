"""Saved recovery codes (R-12)."""

from __future__ import annotations

import math
import re
import secrets
import time

import pytest

from custos.proofing import recovery_code
from custos.proofing.recovery_code import (
    ALPHABET,
    DUMMY_HASH,
    HASHER,
    SECRET_BITS,
    dummy_verify,
    generate_codes,
    parse_code,
    verify_code,
)

SHAPE = re.compile(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}")


@pytest.fixture(scope="module")
def codes() -> list[recovery_code.GeneratedCode]:
    return generate_codes()


def test_generate_codes_gives_ten_by_default(codes: list[recovery_code.GeneratedCode]) -> None:
    assert len(codes) == 10
    assert len({c.plain for c in codes}) == 10


def test_generate_codes_lookup_ids_are_distinct(codes: list[recovery_code.GeneratedCode]) -> None:
    assert len({c.lookup_id for c in codes}) == len(codes)


def test_code_secret_has_at_least_64_bits() -> None:
    """R-12: >= 64 bits of secret from a CSPRNG, not counting the lookup id."""
    assert len(ALPHABET) == 32
    assert len(set(ALPHABET)) == 32
    assert SECRET_BITS == 16 * math.log2(len(ALPHABET)) >= 64


def test_code_shape_is_five_groups_of_four(codes: list[recovery_code.GeneratedCode]) -> None:
    for code in codes:
        assert SHAPE.fullmatch(code.plain)
        assert code.plain.startswith(code.lookup_id + "-")
        assert set(code.plain.replace("-", "")) <= set(ALPHABET)


def test_alphabet_has_no_look_alikes() -> None:
    assert not set(ALPHABET) & set("ILOU")


def test_generate_codes_uses_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-12: every character comes from secrets.choice."""
    calls: list[str] = []
    real = secrets.choice

    def spy(seq: str) -> str:
        calls.append(seq)
        choice: str = real(seq)
        return choice

    monkeypatch.setattr(secrets, "choice", spy)
    generate_codes(1)
    assert len(calls) == 20


def test_hash_is_salted_argon2id_never_the_plain(codes: list[recovery_code.GeneratedCode]) -> None:
    """R-12: stored as a salted password hash (argon2id, m=19456, t=2, p=1)."""
    for code in codes:
        assert code.hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert code.plain not in code.hash
        assert code.plain.replace("-", "") not in code.hash
    assert len({c.hash.split("$")[4] for c in codes}) == len(codes)  # distinct salts


def test_same_code_hashes_differently_each_time() -> None:
    assert HASHER.hash("ABCD" * 5) != HASHER.hash("ABCD" * 5)


def test_generated_code_repr_hides_plain(codes: list[recovery_code.GeneratedCode]) -> None:
    """R-37: the plain code never reaches a log through repr or str."""
    code = codes[0]
    secret_part = code.plain.split("-", 1)[1]
    for shown in (repr(code), str(code), repr(codes)):
        assert code.plain not in shown
        assert secret_part not in shown
    assert code.lookup_id in repr(code)


def test_verify_code_accepts_own_code(codes: list[recovery_code.GeneratedCode]) -> None:
    """R-12: a saved code verifies against its stored hash."""
    assert verify_code(codes[0].plain, codes[0].hash)


def test_verify_code_rejects_other_code(codes: list[recovery_code.GeneratedCode]) -> None:
    assert not verify_code(codes[1].plain, codes[0].hash)


def test_verify_code_rejects_other_lookup_id_with_same_secret(
    codes: list[recovery_code.GeneratedCode],
) -> None:
    code = codes[0]
    other_id = "ZZZZ" if code.lookup_id != "ZZZZ" else "YYYY"
    forged = other_id + code.plain[4:]
    assert not verify_code(forged, code.hash)


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$x$y"])
def test_verify_code_false_for_invalid_hash(
    codes: list[recovery_code.GeneratedCode], stored: str
) -> None:
    assert not verify_code(codes[0].plain, stored)


@pytest.mark.parametrize("text", ["", "junk", "ABCD-EFGH", "x" * 1000, "ABCD-EFGH-JKMN-PQRS-TVWU"])
def test_verify_code_false_for_unparseable_text(
    codes: list[recovery_code.GeneratedCode], text: str
) -> None:
    assert not verify_code(text, codes[0].hash)


def test_verify_code_tolerates_case_spaces_and_dashes(
    codes: list[recovery_code.GeneratedCode],
) -> None:
    code = codes[0]
    bare = code.plain.replace("-", "")
    for variant in (code.plain.lower(), bare, " ".join(bare), f"  {code.plain}  ", bare.lower()):
        assert verify_code(variant, code.hash)


def test_parse_code_returns_lookup_id_and_secret() -> None:
    assert parse_code("k7qf-3d9x-w2hm-8rzt-v4np") == ("K7QF", "3D9XW2HM8RZTV4NP")


def test_parse_code_tolerates_spaces_and_dashes() -> None:
    assert parse_code(" K7QF 3D9X--W2HM 8RZT-V4NP ") == ("K7QF", "3D9XW2HM8RZTV4NP")


def test_parse_code_reads_o_i_l_as_digits() -> None:
    assert parse_code("KOQF-ID9X-LLHM-8RZT-V4NP") == ("K0QF", "1D9X11HM8RZTV4NP")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "K7QF",
        "K7QF-3D9X-W2HM-8RZT-V4N",
        "K7QF-3D9X-W2HM-8RZT-V4NPA",
        "K7QF-3D9X-W2HM-8RZT-V4NU",
        "K7QF_3D9X_W2HM_8RZT_V4NP",
        "K7QF-3D9X-W2HM-8RZT-V4N!",
        "-" * 200,
    ],
)
def test_parse_code_rejects_non_codes(text: str) -> None:
    assert parse_code(text) is None


def test_dummy_hash_uses_current_parameters() -> None:
    """R-19: the dummy hash costs what a real one costs."""
    assert not HASHER.check_needs_rehash(DUMMY_HASH)


def test_dummy_verify_spends_about_one_verification(
    codes: list[recovery_code.GeneratedCode],
) -> None:
    """R-19: an unknown lookup id takes as long as a wrong code."""
    real_times: list[float] = []
    dummy_times: list[float] = []
    for _ in range(7):  # interleaved; the minimum is robust to a busy machine
        start = time.perf_counter()
        verify_code(codes[1].plain, codes[0].hash)
        real_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        dummy_verify()
        dummy_times.append(time.perf_counter() - start)
    real, dummy = min(real_times), min(dummy_times)
    assert 0.4 < dummy / real < 2.5


def test_dummy_verify_calls_argon2_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Spy:
        def verify(self, stored: str, password: str) -> bool:
            seen.append(stored)
            return False

    monkeypatch.setattr(recovery_code, "HASHER", Spy())
    dummy_verify()
    assert seen == [DUMMY_HASH]


def test_generate_codes_avoids_taken_lookup_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replacement code never reuses a lookup id the subject still holds."""
    ids = iter(["AAAA", "BBBB"])
    monkeypatch.setattr(recovery_code, "_random_chars", lambda n: next(ids) if n == 4 else "0" * n)
    (code,) = generate_codes(1, taken_ids=["aaaa"])
    assert code.lookup_id == "BBBB"


@pytest.mark.parametrize("count", [0, -1, 101])
def test_generate_codes_rejects_bad_count(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        generate_codes(count)
