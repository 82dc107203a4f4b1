"""Strictness of the key and secret text forms the credentials core reads:
keys and carried subkeys are strict base64 (a stray character is refused, not
skipped), the sealing key ring's JSON form is pinned, a missing primary key is
named, an unknown sealing key is named, and generated service secrets honour
their length (R-40)."""

from __future__ import annotations

import base64
import json

import pytest

from custos.credentials import service_secrets
from custos.credentials.keys import MasterKey
from custos.credentials.sealed import Sealer, SealError
from custos.credentials.sealing_keys import (
    FORMAT,
    MAC_PURPOSES,
    SealingKeys,
    SealingKeysInvalid,
)
from custos.domain.errors import InvalidInput

PURPOSE = sorted(MAC_PURPOSES)[0]


def _with_stray(text: str) -> str:
    return f"{text[:10]}*{text[10:]}"


def test_master_key_refuses_base64_with_a_stray_character() -> None:
    key = MasterKey.generate()
    with pytest.raises(InvalidInput) as caught:
        MasterKey.from_b64(_with_stray(key.to_b64()))
    assert caught.value.message == (
        "master key is not valid base64; expected the base64 of 32 random bytes"
    )


def test_sealing_key_ring_refuses_a_carried_subkey_with_a_stray_character() -> None:
    ring = SealingKeys(primary=MasterKey.generate(), carried={PURPOSE: bytes(32)})
    document = json.loads(ring.to_text())
    document["carried"][PURPOSE] = _with_stray(base64.b64encode(bytes(32)).decode())
    with pytest.raises(SealingKeysInvalid) as caught:
        SealingKeys.from_text(json.dumps(document))
    assert caught.value.message == "a carried subkey is not valid base64"


def test_sealing_key_ring_without_a_primary_key_is_refused() -> None:
    text = json.dumps({"format": FORMAT, "readable": [], "carried": {}})
    with pytest.raises(InvalidInput) as caught:
        SealingKeys.from_text(text)
    assert caught.value.message == "master key decodes to 0 bytes; expected 32"


def test_sealing_key_ring_json_form_is_indented_by_two() -> None:
    primary, older = MasterKey.generate(), MasterKey.generate()
    ring = SealingKeys(primary=primary, readable=(older,), carried={PURPOSE: bytes(32)})
    assert ring.to_text() == (
        "{\n"
        f'  "format": "{FORMAT}",\n'
        f'  "primary": "{primary.to_b64()}",\n'
        '  "readable": [\n'
        f'    "{older.to_b64()}"\n'
        "  ],\n"
        '  "carried": {\n'
        f'    "{PURPOSE}": "{base64.b64encode(bytes(32)).decode()}"\n'
        "  }\n"
        "}\n"
    )


def test_unsealing_under_a_key_the_ring_does_not_hold_names_the_key() -> None:
    old = MasterKey.generate()
    blob = Sealer(old).seal("secret", aad="a")
    with pytest.raises(SealError) as caught:
        Sealer(MasterKey.generate()).unseal(blob, aad="a")
    assert caught.value.message == (
        f"sealed secret names key {old.key_id}, which the sealing key ring does not "
        "hold (a retired key, or a ring this process has not loaded)"
    )


def test_service_secret_of_one_character_is_allowed() -> None:
    secret = service_secrets.generate(1, "ab")
    assert len(secret) == 1 and secret in ("a", "b")


@pytest.mark.parametrize(("length", "alphabet"), [(0, "ab"), (-1, "ab"), (8, "")])
def test_service_secret_needs_a_length_and_an_alphabet(length: int, alphabet: str) -> None:
    with pytest.raises(ValueError, match=r"^a secret needs a length and an alphabet$"):
        service_secrets.generate(length, alphabet)
