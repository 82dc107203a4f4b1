"""E.164 normalisation: the one spelling a carrier's number and a subject's
contact are compared in (R-44)."""

from __future__ import annotations

import pytest

from custos.domain.phones import e164


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("+491701234567", "+491701234567"),
        ("+49 170 1234567", "+491701234567"),
        ("0049 (170) 123-4567", "+491701234567"),
        ("+1.415.555.0100", "+14155550100"),
        (" +44 20 7946 0958 ", "+442079460958"),
        ("+1/415/5550100", "+14155550100"),
    ],
)
def test_international_numbers_in_any_spelling_become_e164(written: str, expected: str) -> None:
    assert e164(written) == expected


@pytest.mark.parametrize(
    "written",
    ["0170 1234567", "+0123456789", "+12345", "+1234567890123456", "+49 170 ABC", "", "+"],
)
def test_anything_else_is_not_a_number(written: str) -> None:
    """National numbers, a leading zero after +, too few or too many digits,
    letters: None, never a guess."""
    assert e164(written) is None
