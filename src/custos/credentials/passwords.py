"""New-password rules and temporary passwords (63B-4 §3.1.1, R-17).

Rules, all checked so that every failure is reported at once:

- length, counted in Unicode code points after NFKC normalisation: at least 15,
  or at least 8 when the password is used with a bound MFA authenticator; at
  most 256;
- zxcvbn score at least 3 (2 with bound MFA, so 8 characters can pass),
  with the subject's own data (name, email, account ids) as zxcvbn user
  inputs. zxcvbn is quadratic in the length, so it scores
  only the first 72 code points (its own default cap): a password whose first
  72 characters are guessable is rejected whatever follows;
- no user input of at least 4 characters, nor any word of one (``alice`` from
  ``alice.smith@example.com``), may appear in the password, case-insensitively.

No composition rules (NIST). Reasons are fixed texts: never the password, never
a user input.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from zxcvbn import zxcvbn

from custos.domain.errors import PasswordRejected

MIN_LENGTH: Final = 15
MIN_LENGTH_WITH_MFA: Final = 8
MAX_LENGTH: Final = 256
MIN_SCORE: Final = 3
MIN_SCORE_WITH_MFA: Final = 2
MIN_USER_INPUT_LENGTH: Final = 4
ZXCVBN_MAX_LENGTH: Final = 72

# No look-alikes: no 0/O/o, 1/l/I, nor 5/S, 2/Z, 8/B pairs.
TEMP_ALPHABET: Final = "ACDEFGHJKMNPQRTUVWXYabcdefghijkmnpqrstuvwxyz3479"
TEMP_MIN_LENGTH: Final = MIN_LENGTH
_TEMP_MAX_ATTEMPTS: Final = 100
_WORD_SPLIT: Final = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class PasswordVerdict:
    """What the rules say of a candidate: the failed rules (fixed texts), the
    zxcvbn score (0..4) and the length that applies."""

    reasons: tuple[str, ...]
    score: int
    min_length: int

    @property
    def acceptable(self) -> bool:
        return not self.reasons


def assess_new_password(
    password: str, *, mfa_bound: bool, user_inputs: Sequence[str] = ()
) -> PasswordVerdict:
    """Every rule checked against ``password``; never raises. The same verdict
    :func:`check_new_password` acts on, so feedback while typing and the answer
    on submit cannot disagree."""
    normalised = unicodedata.normalize("NFKC", password)
    inputs = [unicodedata.normalize("NFKC", text) for text in user_inputs if text]
    reasons: list[str] = []
    minimum = MIN_LENGTH_WITH_MFA if mfa_bound else MIN_LENGTH
    length = len(normalised)
    if length < minimum:
        reasons.append(f"must be at least {minimum} characters long")
    if length > MAX_LENGTH:
        reasons.append(f"must be at most {MAX_LENGTH} characters long")
    if _contains_user_input(normalised, inputs):
        reasons.append("must not contain your name, email address or account identifiers")
    score = 0
    if length:
        result = zxcvbn(
            normalised[:ZXCVBN_MAX_LENGTH], user_inputs=inputs, max_length=ZXCVBN_MAX_LENGTH
        )
        score = int(result["score"])
        # zxcvbn caps an n-character guess estimate at 10^n, so no 8-character
        # password reaches score 3: with a bound second factor, 2 is the bar.
        if score < (MIN_SCORE_WITH_MFA if mfa_bound else MIN_SCORE):
            reasons.append("is too easy to guess; use a longer passphrase of uncommon words")
    return PasswordVerdict(reasons=tuple(reasons), score=score, min_length=minimum)


def check_new_password(password: str, *, mfa_bound: bool, user_inputs: Sequence[str] = ()) -> None:
    """Return None when ``password`` is acceptable as a new password.

    Raises PasswordRejected whose message lists every failed rule and whose
    ``details["reasons"]`` is the list of those reasons (fixed texts that never
    contain the password or a user input).
    """
    verdict = assess_new_password(password, mfa_bound=mfa_bound, user_inputs=user_inputs)
    if verdict.reasons:
        raise PasswordRejected(
            "password rejected: it " + "; it ".join(verdict.reasons),
            reasons=list(verdict.reasons),
            min_length=verdict.min_length,
            max_length=MAX_LENGTH,
        )


def generate_temporary_password(length: int = 20) -> str:
    """Return a random password of ``length`` characters from :mod:`secrets`.

    The alphabet has no look-alike characters. The result always holds an
    upper-case letter, a lower-case letter and a digit (directories with a
    complexity policy accept it) and passes ``check_new_password(mfa_bound=False)``.
    Raises ValueError unless 15 <= length <= 256.
    """
    if not TEMP_MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"length must be between {TEMP_MIN_LENGTH} and {MAX_LENGTH}")
    for _ in range(_TEMP_MAX_ATTEMPTS):
        candidate = "".join(secrets.choice(TEMP_ALPHABET) for _ in range(length))
        if not (
            any(c.isupper() for c in candidate)
            and any(c.islower() for c in candidate)
            and any(c.isdigit() for c in candidate)
        ):
            continue
        try:
            check_new_password(candidate, mfa_bound=False)
        except PasswordRejected:
            continue
        return candidate
    raise RuntimeError("could not generate a temporary password")  # pragma: no cover


def _contains_user_input(password: str, inputs: Sequence[str]) -> bool:
    folded = password.casefold()
    needles: set[str] = set()
    for text in inputs:
        needles.add(text.casefold())
        needles.update(word.casefold() for word in _WORD_SPLIT.split(text))
    return any(len(n) >= MIN_USER_INPUT_LENGTH and n in folded for n in needles)
