"""Tree-head signing and the ledger key ring (``custos.ledger.signing``), pinned
field by field: the signed payload's bytes, what a valid signature needs, the
key ring's files, modes, order and refusals (R-38)."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custos.ledger.signing import (
    KeyRing,
    KeyRingError,
    LedgerKey,
    NoLedgerKey,
    TreeHead,
    key_id_of,
    load_public_key,
    public_pem,
    sign_head,
    signed_payload,
    verify_head,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
ROOT = bytes(range(32))


def _raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _key(private: Ed25519PrivateKey | None = None) -> LedgerKey:
    private = private or Ed25519PrivateKey.generate()
    public = private.public_key()
    return LedgerKey(key_id_of(public), "2026-01-01T00:00:00.000000Z", public, private)


def test_error_ids_are_stable() -> None:
    assert KeyRingError.error_id == "ledger_key_invalid"
    assert NoLedgerKey.error_id == "no_ledger_key"


def test_key_id_is_sixteen_hex_digits_of_the_raw_public_key_hash() -> None:
    private = Ed25519PrivateKey.generate()
    assert key_id_of(private.public_key()) == hashlib.sha256(_raw(private)).hexdigest()[:16]


def test_public_pem_is_subject_public_key_info_text() -> None:
    private = Ed25519PrivateKey.generate()
    pem = public_pem(private.public_key())
    assert isinstance(pem, str)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert key_id_of(load_public_key(pem.encode())) == key_id_of(private.public_key())


def test_load_public_key_reads_pem_and_base64_of_raw_bytes() -> None:
    private = Ed25519PrivateKey.generate()
    wanted = key_id_of(private.public_key())
    raw64 = base64.b64encode(_raw(private))
    assert key_id_of(load_public_key(raw64)) == wanted
    assert key_id_of(load_public_key(b"  " + raw64 + b"\n")) == wanted


@pytest.mark.parametrize(
    "data",
    [
        b"not base64 at all!",
        base64.b64encode(bytes(31)),
        b"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n",
    ],
)
def test_load_public_key_refuses_what_is_not_a_key(data: bytes) -> None:
    with pytest.raises(KeyRingError, match=r"^not an Ed25519 public key: "):
        load_public_key(data)


def test_load_public_key_refuses_base64_with_stray_characters() -> None:
    """Strict base64: characters outside the alphabet are refused, not skipped."""
    raw64 = base64.b64encode(_raw(Ed25519PrivateKey.generate())).decode()
    with pytest.raises(KeyRingError):
        load_public_key(f"{raw64[:10]}*{raw64[10:]}".encode())


def test_load_public_key_refuses_a_key_of_another_kind() -> None:
    pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyRingError) as caught:
        load_public_key(pem)
    assert caught.value.message == "not an Ed25519 public key"
    assert caught.value.error_id == "ledger_key_invalid"


def test_signed_payload_is_the_canonical_json_of_the_four_fields() -> None:
    assert signed_payload(3, "ab", "2026-01-01T00:00:00.000000Z", "k1") == (
        b'{"key_id":"k1","root_hash":"ab","signed_at":"2026-01-01T00:00:00.000000Z","tree_size":3}'
    )


def test_tree_head_json_round_trip_and_payload() -> None:
    head = TreeHead(7, "aa" * 32, "2026-01-01T00:00:00.000000Z", "k1", "c2ln")
    assert head.to_json() == {
        "tree_size": 7,
        "root_hash": "aa" * 32,
        "signed_at": "2026-01-01T00:00:00.000000Z",
        "key_id": "k1",
        "signature": "c2ln",
    }
    assert TreeHead.from_json(head.to_json()) == head
    assert TreeHead.from_json({**head.to_json(), "tree_size": "7"}) == head
    assert head.payload() == signed_payload(7, "aa" * 32, "2026-01-01T00:00:00.000000Z", "k1")


@pytest.mark.parametrize("field", ["tree_size", "root_hash", "signed_at", "key_id", "signature"])
def test_tree_head_from_json_refuses_a_missing_field(field: str) -> None:
    data: dict[str, object] = {
        "tree_size": 1,
        "root_hash": "00",
        "signed_at": "t",
        "key_id": "k",
        "signature": "s",
    }
    del data[field]
    with pytest.raises(KeyRingError, match=r"^malformed tree head: "):
        TreeHead.from_json(data)


def test_tree_head_from_json_refuses_a_size_that_is_not_a_number() -> None:
    data: dict[str, object] = {
        "tree_size": "seven",
        "root_hash": "00",
        "signed_at": "t",
        "key_id": "k",
        "signature": "s",
    }
    with pytest.raises(KeyRingError, match=r"^malformed tree head: "):
        TreeHead.from_json(data)


def test_sign_head_signs_the_payload_with_the_key() -> None:
    key = _key()
    head = sign_head(key, 5, ROOT, NOW)
    assert head.tree_size == 5
    assert head.root_hash == ROOT.hex()
    assert head.signed_at == "2026-03-01T12:00:00.123456Z"
    assert head.key_id == key.key_id
    key.public.verify(
        base64.b64decode(head.signature), signed_payload(5, ROOT.hex(), head.signed_at, key.key_id)
    )
    assert verify_head(head, key.public)


def test_sign_head_refuses_a_key_without_its_private_half() -> None:
    key = _key()
    public_only = LedgerKey(key.key_id, key.created_at, key.public, None)
    with pytest.raises(NoLedgerKey, match=f"key {key.key_id} has no private half here"):
        sign_head(public_only, 1, ROOT, NOW)


def test_verify_head_refuses_another_key_or_an_altered_head() -> None:
    """R-38: a head verifies only with the key it names, and only unaltered."""
    key, other = _key(), _key()
    head = sign_head(key, 5, ROOT, NOW)
    assert verify_head(head, key.public)
    assert not verify_head(head, other.public)
    # another key's signature under this head's key id
    forged = sign_head(other, 5, ROOT, NOW)
    assert not verify_head(
        TreeHead(5, ROOT.hex(), forged.signed_at, key.key_id, forged.signature), key.public
    )
    # the other key, named by the head: the key id matches but the signature is not its
    assert not verify_head(
        TreeHead(5, ROOT.hex(), head.signed_at, other.key_id, head.signature), other.public
    )
    for altered in (
        TreeHead(6, head.root_hash, head.signed_at, head.key_id, head.signature),
        TreeHead(5, "00" * 32, head.signed_at, head.key_id, head.signature),
        TreeHead(5, head.root_hash, "2026-03-01T12:00:01.123456Z", head.key_id, head.signature),
    ):
        assert not verify_head(altered, key.public)


def test_verify_head_answers_false_on_a_signature_that_is_not_base64() -> None:
    key = _key()
    head = sign_head(key, 5, ROOT, NOW)
    assert not verify_head(
        TreeHead(5, head.root_hash, head.signed_at, head.key_id, "!!" + head.signature), key.public
    )
    # strict decoding: stray characters are not skipped
    stray = head.signature[:8] + "*" + head.signature[8:]
    assert not verify_head(
        TreeHead(5, head.root_hash, head.signed_at, head.key_id, stray), key.public
    )


def test_key_ring_of_a_missing_folder_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "ring")
    assert ring.all_keys() == []
    assert ring.public_keys() == {}
    with pytest.raises(NoLedgerKey) as caught:
        ring.active()
    assert caught.value.message == (
        f"no ledger signing key in {tmp_path / 'ring'}: run 'custos keys rotate-ledger'"
    )
    assert not (tmp_path / "ring").exists()


def test_generate_writes_the_key_files_with_private_modes(tmp_path: Path) -> None:
    folder = tmp_path / "ring"
    key = KeyRing(folder).generate(NOW)
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    private_file = folder / f"{key.key_id}.key"
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    loaded = serialization.load_pem_private_key(private_file.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert key_id_of(loaded.public_key()) == key.key_id
    assert (folder / f"{key.key_id}.pub").read_text(encoding="ascii") == public_pem(key.public)
    meta = json.loads((folder / f"{key.key_id}.json").read_text(encoding="utf-8"))
    assert meta == {
        "key_id": key.key_id,
        "created_at": "2026-03-01T12:00:00.123456Z",
        "algorithm": "Ed25519",
        "serial": 1,
    }
    assert key.created_at == "2026-03-01T12:00:00.123456Z"
    assert key.private is not None
    assert key.pem == public_pem(key.public)
    assert key_id_of(key.public) == key.key_id


def test_newest_key_is_active_and_keys_made_in_one_tick_keep_their_order(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    first = ring.generate(NOW)
    second = ring.generate(NOW)  # the same instant: the serial orders them
    third = ring.generate(NOW + timedelta(seconds=1))
    metas = [
        json.loads((tmp_path / f"{k.key_id}.json").read_text()) for k in (first, second, third)
    ]
    assert [m["serial"] for m in metas] == [1, 2, 3]
    assert [k.key_id for k in ring.all_keys()] == [first.key_id, second.key_id, third.key_id]
    assert ring.active().key_id == third.key_id
    assert set(ring.public_keys()) == {first.key_id, second.key_id, third.key_id}
    assert key_id_of(ring.public_keys()[second.key_id]) == second.key_id
    assert ring.ensure(NOW).key_id == third.key_id
    assert len(ring.all_keys()) == 3


def test_serial_orders_keys_of_one_tick_against_their_key_ids(tmp_path: Path) -> None:
    """Created at the same instant, the higher serial is newer whatever the ids."""
    ring = KeyRing(tmp_path)
    keys = [ring.generate(NOW) for _ in range(6)]
    assert [k.key_id for k in ring.all_keys()] == [k.key_id for k in keys]
    # a key with no serial (written before serials existed) sorts first in its tick
    meta_path = tmp_path / f"{keys[-1].key_id}.json"
    meta = json.loads(meta_path.read_text())
    del meta["serial"]
    meta_path.write_text(json.dumps(meta))
    assert ring.all_keys()[0].key_id == keys[-1].key_id
    assert ring.active().key_id == keys[-2].key_id


def test_created_at_orders_before_the_serial(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    later = ring.generate(NOW + timedelta(days=1))
    earlier = ring.generate(NOW)  # higher serial, older creation time
    assert [k.key_id for k in ring.all_keys()] == [earlier.key_id, later.key_id]
    assert ring.active().key_id == later.key_id
    assert ring.all_keys()[0].created_at == "2026-03-01T12:00:00.123456Z"


def test_ensure_generates_the_first_key_only_when_the_ring_is_empty(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "ring")
    key = ring.ensure(NOW)
    assert key.private is not None
    assert [k.key_id for k in ring.all_keys()] == [key.key_id]
    assert ring.ensure(NOW + timedelta(days=1)).key_id == key.key_id
    assert len(ring.all_keys()) == 1


def test_a_verification_only_ring_reads_public_halves_and_has_no_active_key(
    tmp_path: Path,
) -> None:
    ring = KeyRing(tmp_path)
    key = ring.generate(NOW)
    (tmp_path / f"{key.key_id}.key").unlink()
    [read] = ring.all_keys()
    assert read.private is None
    assert read.key_id == key.key_id
    assert ring.public_keys() == {key.key_id: read.public}
    with pytest.raises(NoLedgerKey):
        ring.active()


def test_active_skips_newer_keys_without_their_private_half(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    older = ring.generate(NOW)
    newer = ring.generate(NOW + timedelta(seconds=1))
    (tmp_path / f"{newer.key_id}.key").unlink()
    assert ring.active().key_id == older.key_id


def test_a_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    key = ring.generate(NOW)
    path = tmp_path / f"{key.key_id}.key"
    for mode in (0o640, 0o604, 0o610, 0o601):
        path.chmod(mode)
        with pytest.raises(KeyRingError) as caught:
            ring.all_keys()
        assert caught.value.message == f"{path} must not be readable by others (chmod 600)"
    path.chmod(0o400)
    assert ring.active().key_id == key.key_id


def test_a_private_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    key = ring.generate(NOW)
    path = tmp_path / f"{key.key_id}.key"
    other = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(other)
    with pytest.raises(KeyRingError) as caught:
        ring.all_keys()
    assert caught.value.message == f"{path} is not an Ed25519 private key"


def test_a_public_key_that_does_not_match_its_key_id_is_refused(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    key = ring.generate(NOW)
    (tmp_path / f"{key.key_id}.pub").write_text(public_pem(_key().public), encoding="ascii")
    with pytest.raises(KeyRingError) as caught:
        ring.all_keys()
    assert caught.value.message == (
        f"{tmp_path / (key.key_id + '.json')}: key id does not match its public key"
    )


def test_ring_keys_sign_heads_that_verify_with_the_ring(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    ring.generate(NOW)
    head = sign_head(ring.active(), 9, ROOT, NOW)
    reread = KeyRing(tmp_path)
    assert verify_head(head, reread.public_keys()[head.key_id])


def test_generate_creates_missing_parent_folders(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "ledger-keys"
    key = KeyRing(folder).generate(NOW)
    assert (folder / f"{key.key_id}.key").exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def _drop_serial(folder: Path, key: LedgerKey) -> None:
    meta_path = folder / f"{key.key_id}.json"
    meta = json.loads(meta_path.read_text())
    del meta["serial"]
    meta_path.write_text(json.dumps(meta))


def test_a_key_without_a_serial_sorts_before_serial_one_in_its_tick(tmp_path: Path) -> None:
    """A key written before serials existed counts as serial 0, whatever its id."""
    for attempt in range(64):
        folder = tmp_path / str(attempt)
        ring = KeyRing(folder)
        first, second = ring.generate(NOW), ring.generate(NOW)
        if second.key_id > first.key_id:  # key ids alone would put second last
            break
    _drop_serial(folder, second)
    assert [k.key_id for k in ring.all_keys()] == [second.key_id, first.key_id]
    assert ring.active().key_id == first.key_id


def test_keys_of_one_tick_without_serials_are_ordered_by_key_id(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path)
    keys = [ring.generate(NOW) for _ in range(3)]
    for key in keys:
        _drop_serial(tmp_path, key)
    assert [k.key_id for k in ring.all_keys()] == sorted(k.key_id for k in keys)
    assert ring.active().key_id == max(k.key_id for k in keys)


@pytest.mark.parametrize("data", [[1, 2], "head", 7, None])
def test_tree_head_from_json_refuses_json_that_is_not_an_object(data: Any) -> None:
    """A witness line or pack head that is a JSON array, string, number or null
    is a malformed head (KeyRingError), not a crash."""
    with pytest.raises(KeyRingError, match=r"^malformed tree head: "):
        TreeHead.from_json(data)
