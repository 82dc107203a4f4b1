"""The catalogue of proofing methods."""

from __future__ import annotations

import dataclasses

import pytest

from custos.proofing.base import METHODS, ProofingMethodInfo


def test_methods_list_first_three_methods() -> None:
    assert {"totp", "recovery_code", "email_code"} <= set(METHODS)


def test_methods_keys_match_names() -> None:
    assert all(key == info.name for key, info in METHODS.items())


@pytest.mark.parametrize("name", ["totp", "recovery_code", "email_code"])
def test_otp_and_code_methods_not_phishing_resistant(name: str) -> None:
    assert METHODS[name].phishing_resistant is False
    assert METHODS[name].description


def test_method_info_is_frozen() -> None:
    info = METHODS["totp"]
    assert isinstance(info, ProofingMethodInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "x"  # type: ignore[misc]
