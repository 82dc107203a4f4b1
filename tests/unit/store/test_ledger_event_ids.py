"""The ledger's entry ids, made in bulk for a batch (``event_ids``), are exactly
what ``str(uuid.uuid4())`` spells: version 4, RFC 4122 variant, the canonical
lower-case 8-4-4-4-12 form, all distinct (R-35: every entry has its own id)."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from custos.store.ledger_repository import event_ids

CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_every_id_is_a_version_4_uuid_in_its_canonical_spelling() -> None:
    ids = event_ids(5_000)
    assert len(ids) == 5_000
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
        assert CANONICAL.fullmatch(value)


def test_no_ids_for_an_empty_batch() -> None:
    assert event_ids(0) == []


def test_the_random_bits_are_kept_and_only_version_and_variant_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """All-ones and all-zeros randomness give the two extreme ids: every bit
    but the six fixed ones comes from os.urandom, in order."""
    monkeypatch.setattr(os, "urandom", lambda n: b"\xff" * n)
    assert event_ids(2) == ["ffffffff-ffff-4fff-bfff-ffffffffffff"] * 2
    assert event_ids(1)[0] == str(uuid.UUID(bytes=b"\xff" * 16, version=4))
    monkeypatch.setattr(os, "urandom", lambda n: bytes(n))
    assert event_ids(1) == ["00000000-0000-4000-8000-000000000000"]
    step = bytes(range(16))
    monkeypatch.setattr(os, "urandom", lambda n: step * (n // 16))
    assert event_ids(1) == [str(uuid.UUID(bytes=step, version=4))]


def test_each_id_of_a_batch_is_its_own_sixteen_bytes_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch is masked and spelled as one number: id n is still exactly the
    uuid4 of bytes 16n..16n+15 (none shifted into a neighbour)."""
    raw = bytes(range(256)) * 2 + bytes(range(1, 49))
    monkeypatch.setattr(os, "urandom", lambda n: raw[:n])
    count = len(raw) // 16
    assert event_ids(count) == [
        str(uuid.UUID(bytes=raw[16 * n : 16 * n + 16], version=4)) for n in range(count)
    ]
