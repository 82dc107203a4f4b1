"""Sealing of held secrets with AES-256-GCM."""

from __future__ import annotations

import pytest

from custos.credentials.keys import MasterKey
from custos.credentials.sealed import NONCE_BYTES, VERSION, Sealer, SealError
from custos.domain.errors import DomainError


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(MasterKey.generate())


def test_seal_round_trips_with_same_aad(sealer: Sealer) -> None:
    secret = "Tëmp-pässwörd-🔑-42"
    assert sealer.unseal(sealer.seal(secret, aad="case-1"), aad="case-1") == secret


def test_seal_round_trips_empty_plaintext(sealer: Sealer) -> None:
    assert sealer.unseal(sealer.seal("", aad="case-1"), aad="case-1") == ""


def test_seal_layout_is_version_key_id_nonce_ciphertext() -> None:
    key = MasterKey.generate()
    blob = Sealer(key).seal("abc", aad="case-1")
    assert blob[:1] == VERSION
    assert blob[1:9] == key.key_id_bytes
    assert len(blob) == 1 + 8 + NONCE_BYTES + 3 + 16


def test_seal_uses_fresh_nonce_each_time(sealer: Sealer) -> None:
    blobs = {sealer.seal("same", aad="case-1") for _ in range(100)}
    assert len(blobs) == 100
    assert len({b[9 : 9 + NONCE_BYTES] for b in blobs}) == 100


def test_seal_output_does_not_contain_plaintext(sealer: Sealer) -> None:
    """R-37: the held secret is stored only encrypted."""
    secret = "correct horse battery staple"
    assert secret.encode() not in sealer.seal(secret, aad="case-1")


def test_unseal_rejects_wrong_aad(sealer: Sealer) -> None:
    """R-17: a sealed secret is bound to its case."""
    blob = sealer.seal("s3cret", aad="case-1")
    with pytest.raises(SealError) as caught:
        sealer.unseal(blob, aad="case-2")
    assert caught.value.message == "sealed secret does not open with this key and context"


def test_unseal_rejects_wrong_key(sealer: Sealer) -> None:
    blob = sealer.seal("s3cret", aad="case-1")
    with pytest.raises(SealError):
        Sealer(MasterKey.generate()).unseal(blob, aad="case-1")


@pytest.mark.parametrize("index", [1, 5, 9, 13, 21, -1])
def test_unseal_rejects_tampered_byte(sealer: Sealer, index: int) -> None:
    blob = bytearray(sealer.seal("s3cret", aad="case-1"))
    blob[index] ^= 0x01
    with pytest.raises(SealError):
        sealer.unseal(bytes(blob), aad="case-1")


def test_unseal_rejects_unknown_version(sealer: Sealer) -> None:
    blob = sealer.seal("s3cret", aad="case-1")
    with pytest.raises(SealError) as caught:
        sealer.unseal(b"\x09" + blob[1:], aad="case-1")
    assert caught.value.message == "sealed secret is malformed or of an unknown version"


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + b"\x00" * 27, b"\x02" + b"\x00" * 35])
def test_unseal_rejects_truncated_blob(sealer: Sealer, blob: bytes) -> None:
    with pytest.raises(SealError):
        sealer.unseal(blob, aad="case-1")


def test_seal_error_is_domain_error_with_stable_id() -> None:
    assert issubclass(SealError, DomainError)
    assert SealError.error_id == "seal_invalid"


def test_seal_key_differs_from_other_subkeys() -> None:
    """Sealing uses its own HKDF subkey, so sealing and MAC keys differ."""
    key = MasterKey.generate()
    assert key.subkey("seal") != key.subkey("email-code")


def test_repr_hides_key_material(sealer: Sealer) -> None:
    assert repr(sealer) == "Sealer(<redacted>)"
