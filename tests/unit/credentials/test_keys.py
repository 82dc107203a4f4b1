"""Master key and HKDF subkeys."""

from __future__ import annotations

import base64
import pickle

import pytest

from custos.credentials.keys import KEY_BYTES, MasterKey
from custos.domain.errors import InvalidInput


def test_generate_has_32_random_bytes_each_time() -> None:
    """Keys come from secrets: 32 bytes, never repeated."""
    keys = {MasterKey.generate().to_b64() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(base64.b64decode(k)) == KEY_BYTES for k in keys)


def test_from_b64_round_trips_to_b64() -> None:
    key = MasterKey.generate()
    again = MasterKey.from_b64(key.to_b64())
    assert again.to_b64() == key.to_b64()
    assert again.subkey("seal") == key.subkey("seal")


def test_from_b64_tolerates_surrounding_whitespace() -> None:
    key = MasterKey.generate()
    assert MasterKey.from_b64(f"  {key.to_b64()}\n").to_b64() == key.to_b64()


@pytest.mark.parametrize("text", ["not base64!!", "", "abc", "====", "A" * 45])
def test_from_b64_rejects_invalid_base64(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"base64|bytes"):
        MasterKey.from_b64(text)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_from_b64_rejects_wrong_length(size: int) -> None:
    text = base64.b64encode(b"k" * size).decode()
    with pytest.raises(InvalidInput, match=f"{size} bytes; expected 32"):
        MasterKey.from_b64(text)


def test_from_b64_error_does_not_echo_input() -> None:
    """R-37: a bad key in configuration is never echoed into an error or log."""
    text = base64.b64encode(b"secret-material-16").decode()
    with pytest.raises(InvalidInput) as caught:
        MasterKey.from_b64(text)
    assert text not in str(caught.value)
    assert caught.value.error_id == "invalid_input"


def test_constructor_rejects_wrong_length() -> None:
    with pytest.raises(InvalidInput):
        MasterKey(b"short")


def test_subkey_differs_per_purpose() -> None:
    key = MasterKey.generate()
    seal, mac = key.subkey("seal"), key.subkey("email-code")
    assert seal != mac
    assert len(seal) == len(mac) == 32
    assert key.subkey("seal") == seal


def test_subkey_differs_per_master_key() -> None:
    assert MasterKey.generate().subkey("seal") != MasterKey.generate().subkey("seal")


def test_subkey_is_not_the_master_key() -> None:
    key = MasterKey.generate()
    assert base64.b64encode(key.subkey("seal")).decode() != key.to_b64()


def test_subkey_rejects_empty_purpose() -> None:
    with pytest.raises(ValueError, match=r"^purpose must not be empty$"):
        MasterKey.generate().subkey("")


def test_repr_and_str_hide_key_material_always() -> None:
    """R-37: key material never reaches a log through repr or str."""
    key = MasterKey.generate()
    material = base64.b64decode(key.to_b64())
    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert key.to_b64() not in shown
        assert material.hex() not in shown
        assert "redacted" in shown
    assert repr(key) == str(key) == "MasterKey(<redacted>)"


def test_pickle_refused_always() -> None:
    with pytest.raises(TypeError, match=r"^MasterKey cannot be pickled$"):
        pickle.dumps(MasterKey.generate())


def test_key_of_wrong_length_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        MasterKey(b"\x00" * 31)
    assert caught.value.message == "master key must be exactly 32 bytes"
