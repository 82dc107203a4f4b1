"""Contacts on console pages are masked: the agent can name where a code went,
a caller who does not know the address learns nothing to repeat back."""

from __future__ import annotations

import pytest

from custos.domain.model import ContactKind
from custos.service.console.masking import mask_contact, mask_email, mask_phone


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.org", "j***@example.org"),
        ("a@b.example", "a***@b.example"),
        ("no-at-sign", "***"),
        ("@example.org", "***"),
        ("jane@", "***"),
    ],
)
def test_an_email_shows_its_first_letter_and_domain_only(address: str, masked: str) -> None:
    assert mask_email(address) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+491701234567", "***67"), ("+44 7700 900123", "***23"), ("12345", "***")],
)
def test_a_phone_number_shows_its_last_two_digits_only(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_masking_follows_the_contact_kind() -> None:
    assert mask_contact(ContactKind.EMAIL, "bob@example.org") == "b***@example.org"
    assert mask_contact(ContactKind.SMS, "+491701234567") == "***67"
