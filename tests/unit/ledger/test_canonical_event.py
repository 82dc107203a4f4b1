"""``canonical_event`` (the bytes a ledger leaf hashes, R-38) is exactly
``rfc8785.dumps`` of the entry ``{"id": ..., **event.canonical()}``, byte for
byte, or raises the same exception type: for every event type, with awkward
times (microseconds zero or not, offsets, zones, naive), non-ASCII and escaped
text, big and out-of-range integers, floats and nested facts. Ordinary events
take the fast path; anything outside its shape goes to ``canonical_json``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import rfc8785

from custos.domain.events import DomainEvent, EventType, Outcome
from custos.ledger import canonical
from custos.ledger.canonical import canonical_event

MAX = 2**53 - 1

TEXTS = [
    "",
    "plain",
    "café ü ß",
    "中文 日本語",
    "emoji \U0001f600 astral \U00010000",
    "private \ue000 \uffff",
    'quote " backslash \\ slash /',
    "controls \x00 \x01 \x1f \b \f \n \r \t \x7f",
    "separators \u2028 \u2029",
    "x" * 300,
]

TIMES = [
    datetime(2026, 12, 6, 23, 57, 40, 576923, tzinfo=UTC),
    datetime(2026, 12, 6, 23, 57, 40, tzinfo=UTC),  # microsecond 0
    datetime(2026, 12, 6, 23, 57, 40, 1, tzinfo=UTC),
    datetime(2026, 12, 7, 1, 2, 3, 450000, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    datetime(2026, 6, 1, 12, 0, 0, 999999, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


FACT_KEYS = ["a", "b", "é", "zz", "key", "中", "A", "_"]

#: A fact nested deeper than the fast path's guard walks.
DEEP: object = 1
for _ in range(40):
    DEEP = [DEEP]


def reference(event_id: str, event: DomainEvent) -> tuple[str, object]:
    try:
        entry: Any = {"id": event_id, **event.canonical()}
        return ("ok", rfc8785.dumps(entry))
    except Exception as exc:
        return ("error", type(exc))


def fast(event_id: str, event: DomainEvent) -> tuple[str, object]:
    try:
        return ("ok", canonical_event(event_id, event))
    except Exception as exc:
        return ("error", type(exc))


def random_fact(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return rng.choice(TEXTS)
    if choice == 1:
        return rng.choice([0, 1, -1, MAX, -MAX, 2**31, rng.randint(-MAX, MAX)])
    if choice == 2:
        return rng.choice([True, False, None])
    if choice == 3:
        return rng.choice([0.25, -1.5, 3.14159, 1e-4 + 1e-9, 123456.789])
    if choice == 4:
        return rng.choice(TEXTS)[: rng.randint(0, 5)]
    if choice == 5:
        return rng.randint(-1000, 1000)
    if choice == 6:
        return [random_fact(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if choice == 7:
        return tuple(random_fact(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return {
        rng.choice(FACT_KEYS) + str(n): random_fact(rng, depth + 1)
        for n in range(rng.randint(0, 5))
    }


def random_event(rng: random.Random, kind: EventType) -> DomainEvent:
    return DomainEvent(
        type=kind,
        occurred_at=rng.choice(TIMES),
        actor=rng.choice(["system:custos", "op:alice", *TEXTS]),
        subject_id=rng.choice([None, "b00068", *TEXTS]),
        case_id=rng.choice([None, "case-20261206-00bbdc2e6d", *TEXTS]),
        outcome=rng.choice(list(Outcome)),
        reason=rng.choice(TEXTS),
        data={
            rng.choice(["target", "account", "attempt", "état", "checks", "x"]) + str(n): (
                random_fact(rng)
            )
            for n in range(rng.randint(0, 6))
        },
        source=rng.choice(["custos", "sync", "é"]),
    )


def test_every_event_type_with_random_awkward_values_matches_rfc8785_byte_for_byte() -> None:
    rng = random.Random(8785)
    for kind in EventType:
        for n in range(40):
            event = random_event(rng, kind)
            event_id = f"{n:08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
            assert fast(event_id, event) == reference(event_id, event), repr(event)


def test_the_same_time_object_twice_and_then_another_are_each_spelled_right() -> None:
    """Consecutive events share their time object (a batch): each entry still
    carries its own event's time."""
    first, second = TIMES[0], TIMES[1]
    for at in (first, first, second, first, TIMES[3], TIMES[3], TIMES[4], TIMES[4], first):
        event = DomainEvent(EventType.CASE_OPENED, at, "system:custos", "s", "c")
        entry: Any = {"id": "id", **event.canonical()}
        assert canonical_event("id", event) == rfc8785.dumps(entry)


@pytest.mark.parametrize(
    "value",
    [
        {"big": 2**53},  # out of RFC 8785's integer range
        {"big": -(2**53)},
        {"nan": float("nan")},
        {"whole": 1.0},  # rfc8785 prints 1
        {"tiny": 1e-7},
        {"huge": 1e21},
        {"set": {1, 2}},
        {"bytes": b"x"},
        {1: "int key"},
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order differs from code points
        {"surrogate": "\ud800"},
        {"deep": DEEP},  # beyond the guard's depth
    ],
)
def test_facts_the_fast_path_does_not_take_match_or_raise_the_same(value: dict[Any, Any]) -> None:
    event = DomainEvent(EventType.CASE_OPENED, TIMES[0], "a", "s", "c", data=value)
    assert fast("id", event) == reference("id", event)


@pytest.mark.parametrize(
    "field",
    [
        {"actor": "\udfff"},
        {"reason": "lone \ud800 surrogate"},
        {"subject_id": "\ud83d"},
        {"case_id": "\udc00"},
        {"source": "\ud800\udc00"},
        {"actor": 7},
        {"subject_id": 12},
        {"case_id": b"case"},
        {"reason": None},
        {"source": ["custos"]},
        {"data": [1, "list, not an object"]},
        {"data": "text"},
        {"type": "raw:type:string"},
        {"outcome": "partial"},
    ],
)
def test_fields_outside_the_typed_shape_match_or_raise_the_same(field: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "type": EventType.RECEIPT_SUCCEEDED,
        "occurred_at": TIMES[0],
        "actor": "system:custos",
        "subject_id": "s",
        "case_id": "c",
        "data": {"attempt": 1},
    }
    event = DomainEvent(**{**base, **field})
    assert fast("id", event) == reference("id", event)


class Shouting(str):
    """A str subclass with its own spelling: rfc8785 and json must agree on it."""

    def __str__(self) -> str:
        return self.upper()


class Renamed(DomainEvent):
    """A subclass that changes what an entry holds: only its canonical() says."""

    __slots__ = ()

    def canonical(self) -> dict[str, object]:
        return {**DomainEvent.canonical(self), "extra": 1}


def test_subclasses_and_str_subclass_fields_match_the_reference() -> None:
    event = DomainEvent(EventType.CASE_OPENED, TIMES[0], Shouting("op"), Shouting("s"), "c")
    assert fast("id", event) == reference("id", event)
    assert fast(Shouting("id"), event) == reference(Shouting("id"), event)
    renamed = Renamed(EventType.CASE_OPENED, TIMES[0], "op", "s", "c")
    assert fast("id", renamed) == reference("id", renamed)
    assert b'"extra":1' in canonical_event("id", renamed)


def test_an_ordinary_event_never_reaches_the_generic_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(value: object) -> bytes:
        raise AssertionError("generic path taken")

    expected = []
    events = []
    rng = random.Random(3)
    for kind in EventType:
        event = DomainEvent(
            kind,
            rng.choice(TIMES),
            "system:custos",
            rng.choice([None, "b1"]),
            rng.choice([None, "c1"]),
            data={"target": "ldap", "attempt": 1, "ok": True, "none": None, "list": [1, 2.5]},
        )
        events.append(event)
        entry: Any = {"id": "i", **event.canonical()}
        expected.append(rfc8785.dumps(entry))
    monkeypatch.setattr(canonical, "canonical_json", refuse)
    assert [canonical_event("i", e) for e in events] == expected


def test_the_fixed_key_order_is_rfc8785_order() -> None:
    assert list(canonical._EVENT_ORDER) == sorted(
        canonical._EVENT_ORDER, key=lambda k: k.encode("utf-16-be")
    )
    event = DomainEvent(EventType.CASE_OPENED, TIMES[0], "a", None, None)
    assert set(canonical._EVENT_ORDER) == {"id", *event.canonical()}


def test_a_known_entry_is_spelled_exactly() -> None:
    event = DomainEvent(
        EventType.RECEIPT_SUCCEEDED,
        datetime(2026, 12, 6, 23, 57, 40, tzinfo=UTC),
        "system:custos",
        "b00068",
        None,
        reason='said "é"',
        data={"target": "ldap", "attempt": 1},
    )
    assert (
        canonical_event("x", event)
        == (
            '{"actor":"system:custos","case":null,"data":{"attempt":1,"target":"ldap"},'
            '"id":"x","outcome":"success","reason":"said \\"é\\"","source":"custos",'
            '"subject":"b00068","time":"2026-12-06T23:57:40.000000Z",'
            '"type":"propagation:receipt:succeeded"}'
        ).encode()
    )


def _nested(levels: int) -> dict[str, object]:
    """Objects nested ``levels`` deep (``levels >= 1``) around an integer."""
    value: dict[str, object] = {"a": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_data_nested_to_the_guards_limit_is_written_by_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The entry is one level, so data may nest one level less than the guard
    allows a whole value; one more goes to canonical_json (same bytes)."""
    limit = canonical._MAX_DEPTH - 1
    inside = DomainEvent(EventType.CASE_OPENED, TIMES[0], "a", None, None, data=_nested(limit))
    beyond = DomainEvent(EventType.CASE_OPENED, TIMES[0], "a", None, None, data=_nested(limit + 1))
    expected = [reference("i", inside), reference("i", beyond)]
    calls: list[object] = []
    generic = canonical.canonical_json

    def counted(value: object) -> bytes:
        calls.append(value)
        return generic(value)

    monkeypatch.setattr(canonical, "canonical_json", counted)
    assert [fast("i", inside), fast("i", beyond)] == expected
    assert len(calls) == 1


def test_an_entry_with_another_key_is_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should DomainEvent.canonical gain a field, the entry is not cut to the
    ten keys the fast path knows: canonical_json writes all of it."""
    plain = DomainEvent.canonical

    def wider(self: DomainEvent) -> dict[str, object]:
        return {**plain(self), "added": "field"}

    monkeypatch.setattr(DomainEvent, "canonical", wider)
    event = DomainEvent(EventType.CASE_OPENED, TIMES[0], "a", "s", "c")
    assert fast("i", event) == reference("i", event)
    assert b'"added":"field"' in canonical_event("i", event)
