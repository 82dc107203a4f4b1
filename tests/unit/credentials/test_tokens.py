"""One-time reset tokens and operator API tokens (R-17)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import pytest

from custos.credentials.tokens import (
    OPERATOR_PREFIX,
    RESET_PREFIX,
    IssuedToken,
    issue_token,
    looks_like_token,
    token_digest,
    token_matches,
)
from custos.service.enrolment.subject_sessions import SESSION_PREFIX


def test_issue_token_has_256_bits_of_entropy() -> None:
    """R-17: reset tokens are 32 bytes from a CSPRNG."""
    token = issue_token()
    prefix, body = token.plain.split("_", 1)
    assert prefix == "crt"
    assert len(base64.urlsafe_b64decode(body + "=")) == 32


def test_issue_token_never_repeats() -> None:
    """R-17: tokens come from secrets; no two are alike."""
    assert len({issue_token().plain for _ in range(1000)}) == 1000


def test_issue_token_uses_secrets_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-17: the randomness is the secrets module's."""
    calls: list[int] = []

    def fake(n: int) -> str:
        calls.append(n)
        return "A" * 43

    monkeypatch.setattr(secrets, "token_urlsafe", fake)
    assert issue_token().plain == "crt_" + "A" * 43
    assert calls == [32]


def test_issue_token_operator_prefix_is_cop() -> None:
    token = issue_token("cop")
    assert token.plain.startswith("cop_")
    assert looks_like_token(token.plain, prefix="cop")
    assert not looks_like_token(token.plain, prefix="crt")


@pytest.mark.parametrize("prefix", ["", "a", "CRT", "c_p", "toolongprefix", "cr1"])
def test_issue_token_rejects_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        issue_token(prefix)


def test_digest_is_sha256_hex_and_never_the_plain() -> None:
    """R-17: only a hash of the token is stored."""
    token = issue_token()
    assert token.digest == hashlib.sha256(token.plain.encode()).hexdigest()
    assert token.digest == token_digest(token.plain)
    assert token.digest != token.plain
    assert token.plain not in token.digest
    assert len(token.digest) == 64


def test_issued_token_repr_hides_plain() -> None:
    """R-37: the plain token never reaches a log through repr or str."""
    token = issue_token()
    body = token.plain.split("_", 1)[1]
    for shown in (repr(token), str(token), f"{token}", repr([token])):
        assert token.plain not in shown
        assert body not in shown
    assert token.digest in repr(token)


def test_issued_token_is_frozen() -> None:
    token = issue_token()
    with pytest.raises(AttributeError):
        token.plain = "x"  # type: ignore[misc]


def test_token_matches_true_for_own_digest() -> None:
    token = issue_token()
    assert token_matches(token.plain, token.digest)


def test_token_matches_false_for_other_token() -> None:
    assert not token_matches(issue_token().plain, issue_token().digest)


@pytest.mark.parametrize("digest", ["", "zz", "é" * 64, "0" * 64])
def test_token_matches_false_for_junk_digest(digest: str) -> None:
    assert not token_matches(issue_token().plain, digest)


def test_token_matches_uses_constant_time_compare(monkeypatch: pytest.MonkeyPatch) -> None:
    """R-17: comparison of digests is constant-time (hmac.compare_digest)."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    token = issue_token()
    assert token_matches(token.plain, token.digest)
    assert len(seen) == 1


def test_looks_like_token_accepts_issued_tokens() -> None:
    assert all(looks_like_token(issue_token().plain) for _ in range(200))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "crt_",
        "crt_" + "A" * 42,
        "crt_" + "A" * 44,
        "crt_" + "A" * 42 + "=",
        "crt " + "A" * 43,
        "CRT_" + "A" * 43,
        "crt_" + "A" * 42 + "é",
        "x" * 10_000,
        "crt_" + "A" * 43 + "\n",
    ],
)
def test_looks_like_token_rejects_junk(text: str) -> None:
    """R-17: junk is rejected before the store is touched."""
    assert not looks_like_token(text)


def test_issued_token_type_is_exported() -> None:
    assert isinstance(issue_token(), IssuedToken)


def test_token_prefixes_are_distinct_per_kind() -> None:
    """R-17: operator, reset and session tokens carry distinct prefixes, so a token
    of one kind never passes the shape check of another."""
    prefixes = {"reset": RESET_PREFIX, "operator": OPERATOR_PREFIX, "session": SESSION_PREFIX}
    assert prefixes == {"reset": "crt", "operator": "cop", "session": "css"}
    for mine in prefixes.values():
        token = issue_token(mine).plain
        assert token.startswith(f"{mine}_")
        for other in prefixes.values():
            assert looks_like_token(token, prefix=other) is (other == mine)


@pytest.mark.parametrize("prefix", ["ab", "abcdefgh"])
def test_issue_token_accepts_prefix_of_two_to_eight_letters(prefix: str) -> None:
    """R-17: the prefix rule's edges: 2 and 8 letters are accepted, and the token
    is the prefix, an underscore and 43 characters (32 bytes)."""
    token = issue_token(prefix).plain
    assert len(token) == len(prefix) + 1 + 43
    assert looks_like_token(token)
    assert looks_like_token(token, prefix=prefix)


@pytest.mark.parametrize("prefix", ["a", "abcdefghi"])
def test_issue_token_refuses_prefix_of_one_or_nine_letters(prefix: str) -> None:
    with pytest.raises(ValueError, match=r"^token prefix must be 2 to 8 lower-case ASCII letters$"):
        issue_token(prefix)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("ab_" + "A" * 43, True),
        ("abcdefgh_" + "A" * 43, True),  # the longest token: 52 characters
        ("a_" + "A" * 43, False),
        ("abcdefghi_" + "A" * 43, False),
        ("crt_" + "A" * 43 + "B" * 17, False),  # 64 characters
        ("crt_" + "A" * 43 + "B" * 18, False),  # 65 characters
        ("crt_" + "-_" * 21 + "z", True),
    ],
)
def test_looks_like_token_pins_length_limits(text: str, ok: bool) -> None:
    """R-17: 2 to 8 prefix letters, exactly 43 body characters, nothing longer."""
    assert looks_like_token(text) is ok


def test_looks_like_token_wrong_prefix_is_refused() -> None:
    token = issue_token(RESET_PREFIX).plain
    assert looks_like_token(token, prefix=RESET_PREFIX)
    assert not looks_like_token(token, prefix=OPERATOR_PREFIX)
    assert not looks_like_token(token, prefix="cr")
