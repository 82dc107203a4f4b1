"""The sealing key ring: blobs name their key, a rotated ring opens old and
new values while sealing only under the new key, MAC subkeys survive the
rotation, and a retired key opens nothing (R-37: no material in messages)."""

from __future__ import annotations

import json
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.credentials.keys import MasterKey
from custos.credentials.sealed import Sealer, SealError, prefix_of, sealed_key_id
from custos.credentials.sealing_keys import MAC_PURPOSES, SealingKeys, SealingKeysInvalid
from custos.domain.errors import InvalidInput


def legacy_blob(key: MasterKey, plaintext: str, aad: str) -> bytes:
    """A version-1 blob as Custos wrote it before keys had ids."""
    nonce = secrets.token_bytes(12)
    body = AESGCM(key.subkey("seal")).encrypt(nonce, plaintext.encode(), b"\x01" + aad.encode())
    return b"\x01" + nonce + body


class Switchable:
    """A key source whose store changes under it (another process rotated)."""

    def __init__(self, seen: SealingKeys, stored: SealingKeys) -> None:
        self.seen, self.stored = seen, stored

    def current(self) -> SealingKeys:
        return self.seen

    def refreshed(self) -> SealingKeys:
        self.seen = self.stored
        return self.seen

    def subkey(self, purpose: str) -> bytes:
        return self.seen.subkey(purpose)


def test_rotated_ring_opens_old_values_and_seals_under_the_new_key() -> None:
    old = SealingKeys(primary=MasterKey.generate())
    before = Sealer(old).seal("totp-secret", aad="totp:ann")
    new_key = MasterKey.generate()
    rotated = old.rotated_to(new_key)
    sealer = Sealer(rotated)
    assert sealer.unseal(before, aad="totp:ann") == "totp-secret"
    after = sealer.reseal(before, aad="totp:ann")
    assert sealed_key_id(before) == old.primary.key_id
    assert sealed_key_id(after) == new_key.key_id
    assert after.startswith(prefix_of(new_key))
    assert Sealer(rotated.without_readable()).unseal(after, aad="totp:ann") == "totp-secret"


def test_a_retired_key_opens_nothing_and_the_error_names_only_its_id() -> None:
    old = SealingKeys(primary=MasterKey.generate())
    blob = Sealer(old).seal("pw", aad="case-1")
    retired = old.rotated_to(MasterKey.generate()).without_readable()
    with pytest.raises(SealError) as caught:
        Sealer(retired).unseal(blob, aad="case-1")
    assert old.primary.key_id in caught.value.message
    assert old.primary.to_b64() not in caught.value.message


def test_legacy_blobs_open_and_reseal_with_a_key_id() -> None:
    key = MasterKey.generate()
    blob = legacy_blob(key, "queued notice", "outbox:1")
    assert sealed_key_id(blob) is None
    rotated = SealingKeys(primary=key).rotated_to(MasterKey.generate())
    sealer = Sealer(rotated)
    assert sealer.unseal(blob, aad="outbox:1") == "queued notice"
    assert sealed_key_id(sealer.reseal(blob, aad="outbox:1")) == rotated.primary.key_id
    with pytest.raises(SealError) as caught:
        Sealer(MasterKey.generate()).unseal(blob, aad="outbox:1")
    assert caught.value.message == "sealed secret does not open with this key and context"


def test_a_blob_relabelled_to_another_key_of_the_ring_does_not_open() -> None:
    """The key id is authenticated: swapping it cannot pick another key."""
    first, second = MasterKey.generate(), MasterKey.generate()
    ring = SealingKeys(primary=first, readable=(second,))
    blob = bytearray(Sealer(ring).seal("pw", aad="case-1"))
    blob[1:9] = second.key_id_bytes
    with pytest.raises(SealError):
        Sealer(ring).unseal(bytes(blob), aad="case-1")


def test_a_value_under_a_key_not_yet_loaded_opens_after_one_refresh() -> None:
    """A process that has not seen the rotation yet re-reads its store once."""
    old = SealingKeys(primary=MasterKey.generate())
    rotated = old.rotated_to(MasterKey.generate())
    blob = Sealer(rotated).seal("pw", aad="case-1")
    source = Switchable(old, rotated)
    assert Sealer(source).unseal(blob, aad="case-1") == "pw"
    assert source.seen is rotated


def test_mac_subkeys_are_carried_through_rotations_without_the_old_key() -> None:
    """Digests made before a rotation still match after it; the new ring holds
    derived subkeys only, so it cannot re-derive the old sealing key."""
    old = SealingKeys(primary=MasterKey.generate())
    twice = old.rotated_to(MasterKey.generate()).without_readable()
    twice = twice.rotated_to(MasterKey.generate()).without_readable()
    for purpose in MAC_PURPOSES:
        assert twice.subkey(purpose) == old.subkey(purpose)
    text = twice.to_text()
    assert old.primary.to_b64() not in text
    assert SealingKeys.from_text(text).subkey("custos/codes/v1") == old.subkey("custos/codes/v1")


def test_subkey_refuses_an_unregistered_purpose() -> None:
    with pytest.raises(ValueError, match="not a registered MAC purpose"):
        SealingKeys(primary=MasterKey.generate()).subkey("custos/new-thing/v1")


def test_text_forms_round_trip() -> None:
    single = SealingKeys(primary=MasterKey.generate())
    assert single.to_text().strip() == single.primary.to_b64()
    assert SealingKeys.from_text(single.to_text()).key_ids == single.key_ids
    rotated = single.rotated_to(MasterKey.generate())
    again = SealingKeys.from_text(rotated.to_text())
    assert again.key_ids == rotated.key_ids
    assert dict(again.carried) == dict(rotated.carried)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"format": "other/1", "primary": "x"}',
        '{"format": "custos-sealing-keys/1", "primary": "c2VjcmV0", "readable": []}',
        '{"format": "custos-sealing-keys/1", "primary": "%s", "readable": "x"}',
    ],
)
def test_malformed_rings_are_refused_without_echoing_them(text: str) -> None:
    if "%s" in text:
        text = text % MasterKey.generate().to_b64()
    with pytest.raises(InvalidInput) as caught:
        SealingKeys.from_text(text)
    assert "c2VjcmV0" not in str(caught.value)


def test_a_key_twice_in_a_ring_is_refused() -> None:
    key = MasterKey.generate()
    with pytest.raises(SealingKeysInvalid):
        SealingKeys(primary=key, readable=(key,))


def test_repr_shows_key_ids_only() -> None:
    ring = SealingKeys(primary=MasterKey.generate())
    assert ring.primary.key_id in repr(ring)
    assert ring.primary.to_b64() not in repr(ring)


@pytest.mark.parametrize("subkey", ["not base64!", "QUJD=extra", "QQ"])
def test_a_carried_subkey_that_is_not_strict_base64_is_refused(subkey: str) -> None:
    """R-37: a damaged ring is refused with a message that echoes nothing of it."""
    document = {
        "format": "custos-sealing-keys/1",
        "primary": MasterKey.generate().to_b64(),
        "readable": [],
        "carried": {"totp": subkey},
    }
    with pytest.raises(SealingKeysInvalid) as caught:
        SealingKeys.from_text(json.dumps(document))
    assert caught.value.message == "a carried subkey is not valid base64"


def test_a_blob_of_the_loaded_ring_opens_without_re_reading_the_store() -> None:
    """A key the ring holds is used as loaded; the store is re-read only for a key
    the ring does not hold (another process rotated)."""
    ring = SealingKeys(primary=MasterKey.generate())
    source = Switchable(ring, SealingKeys(primary=MasterKey.generate()))
    blob = Sealer(ring).seal("pw", aad="case-1")
    assert Sealer(source).unseal(blob, aad="case-1") == "pw"
    assert source.seen is ring


def test_the_shortest_blobs_of_each_version_have_a_key_id_or_none() -> None:
    """Version 1: version byte, 12-byte nonce, 16-byte tag; version 2 adds the
    key id. One byte less is malformed."""
    key = MasterKey.generate()
    v2 = Sealer(key).seal("", aad="a")
    assert sealed_key_id(v2) == key.key_id
    assert sealed_key_id(legacy_blob(key, "", "a")) is None
    for short in (v2[:-1], legacy_blob(key, "", "a")[:-1]):
        with pytest.raises(SealError):
            sealed_key_id(short)


def _ring(**changes: object) -> str:
    document: dict[str, object] = {
        "format": "custos-sealing-keys/1",
        "primary": MasterKey.generate().to_b64(),
        "readable": [],
        "carried": {},
    }
    document.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "the sealing key ring is not valid JSON"),
        ('{"primary": "x"}', "the sealing key ring is not of format custos-sealing-keys/1"),
        (_ring(format="other/1"), "the sealing key ring is not of format custos-sealing-keys/1"),
        (_ring(readable={}), "'readable' must be a list and 'carried' an object"),
        (_ring(carried=[]), "'readable' must be a list and 'carried' an object"),
        (
            _ring(carried={"nonsense": "A" * 44}),
            "carried subkeys for unknown purposes: ['nonsense']",
        ),
        (_ring(carried={"custos/codes/v1": "QUJD"}), "a carried subkey is not 32 bytes"),
    ],
)
def test_a_damaged_ring_is_refused_saying_what_is_wrong(text: str, message: str) -> None:
    """R-37: each way a key ring file can be damaged is refused in its own words,
    never echoing the file."""
    with pytest.raises(SealingKeysInvalid) as caught:
        SealingKeys.from_text(text)
    assert caught.value.message == message


def test_a_ring_without_readable_or_carried_keys_is_just_its_primary() -> None:
    key = MasterKey.generate()
    document = {"format": "custos-sealing-keys/1", "primary": key.to_b64()}
    ring = SealingKeys.from_text(json.dumps(document))
    assert ring.key_ids == (key.key_id,)
    assert ring.carried == {}
    with pytest.raises(InvalidInput):
        SealingKeys.from_text(json.dumps({"format": "custos-sealing-keys/1"}))


def test_a_key_twice_in_the_ring_is_refused() -> None:
    key = MasterKey.generate()
    with pytest.raises(SealingKeysInvalid) as caught:
        SealingKeys(primary=key, readable=(key,))
    assert caught.value.message == "a key appears twice in the ring"


@pytest.mark.parametrize("text", ["not base64!", "QUJD=extra" + "A" * 40])
def test_a_master_key_that_is_not_strict_base64_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        MasterKey.from_b64(text)
    assert caught.value.message == (
        "master key is not valid base64; expected the base64 of 32 random bytes"
    )
