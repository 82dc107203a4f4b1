"""The ledger's entry ids, made in bulk for a batch (``event_ids``): version 7
UUIDs (RFC 9562 §5.7) in the canonical lower-case 8-4-4-4-12 spelling, RFC
variant, the time in milliseconds first and every other bit from ``os.urandom``,
all distinct (R-35: every entry has its own id). Time-ordered, so that the
unique index on ``event_id`` grows at its end as the ledger does."""

from __future__ import annotations

import os
import re
import time
import uuid

import pytest

from custos.store.ledger_repository import event_ids

CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

#: 2026-12-07T05:00:00.123456789Z, in nanoseconds.
NOW_NS = 1_796_619_600_123_456_789
NOW_MS = NOW_NS // 1_000_000


def _time_ms(value: str) -> int:
    return uuid.UUID(value).int >> 80


def test_every_id_is_a_version_7_uuid_in_its_canonical_spelling() -> None:
    before = time.time_ns() // 1_000_000
    ids = event_ids(5_000)
    after = time.time_ns() // 1_000_000
    assert len(ids) == 5_000
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == value
        assert CANONICAL.fullmatch(value)
        assert before <= _time_ms(value) <= after


def test_no_ids_for_an_empty_batch() -> None:
    assert event_ids(0) == []


def test_the_time_comes_first_so_later_batches_sort_after() -> None:
    first = event_ids(300, now_ns=NOW_NS)
    later = event_ids(300, now_ns=NOW_NS + 1_000_000)
    assert {_time_ms(value) for value in first} == {NOW_MS}
    assert max(first) < min(later)


def test_the_random_bits_are_kept_and_only_time_version_and_variant_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """All-ones and all-zeros randomness give the two extreme ids of a
    millisecond: every bit but the 54 fixed ones comes from os.urandom."""
    stamp = f"{NOW_MS:012x}"
    spelled = f"{stamp[:8]}-{stamp[8:]}"
    monkeypatch.setattr(os, "urandom", lambda n: b"\xff" * n)
    assert event_ids(2, now_ns=NOW_NS) == [f"{spelled}-7fff-bfff-ffffffffffff"] * 2
    monkeypatch.setattr(os, "urandom", lambda n: bytes(n))
    assert event_ids(1, now_ns=NOW_NS) == [f"{spelled}-7000-8000-000000000000"]


def test_each_id_of_a_batch_is_its_own_sixteen_bytes_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch is masked and spelled as one number: id n keeps exactly the
    random bits of bytes 16n..16n+15 (none shifted into a neighbour)."""
    raw = bytes(range(256)) * 2 + bytes(range(1, 49))
    monkeypatch.setattr(os, "urandom", lambda n: raw[:n])
    count = len(raw) // 16
    random_bits = (1 << 74) - 1
    expected = []
    for n in range(count):
        chunk = int.from_bytes(raw[16 * n : 16 * n + 16])
        rand_a = (chunk >> 64) & 0xFFF
        rand_b = chunk & ((1 << 62) - 1)
        value = (NOW_MS << 80) | (0x7 << 76) | (rand_a << 64) | (0x2 << 62) | rand_b
        assert (rand_a << 62 | rand_b) <= random_bits
        expected.append(str(uuid.UUID(int=value)))
    assert event_ids(count, now_ns=NOW_NS) == expected
