"""``canonical_json`` gives exactly ``rfc8785.dumps`` (bytes, or the exception type)
on every input: seeded random nested values, and one case for each place where
stdlib ``json`` and RFC 8785 differ; and it takes the fast path on a ledger entry."""

from __future__ import annotations

import math
import random
import struct
from collections import OrderedDict
from collections.abc import Iterator
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import pytest
import rfc8785

from custos.ledger import canonical
from custos.ledger.canonical import _fast_ok, canonical_json

MAX = 2**53 - 1


class Colour(StrEnum):
    RED = "red"
    ASTRAL = "\U0001f600"
    PRIVATE = "\ue000"
    ESCAPED = 'a"\n\\'


class Level(IntEnum):
    LOW = 1
    HUGE = 2**60


class Shouty(str):
    """A str subclass whose encode lies: neither encoder may use it."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"HACKED"


class Backwards(str):
    """A str subclass that sorts in reverse."""

    def __lt__(self, other: object) -> bool:
        return str.__gt__(self, other)  # type: ignore[operator]


class Lying(float):
    def __float__(self) -> float:
        return 2.5


class Skewed(int):
    def __int__(self) -> int:
        return 7


class FakeItems(dict[str, Any]):
    """A dict subclass whose items() lie: json calls it, rfc8785's dict() does not."""

    def items(self) -> Any:
        return [("z", 1)]


class ReversedList(list[Any]):
    def __iter__(self) -> Iterator[Any]:
        return iter(self[::-1])


def outcome(fn: Any, value: object) -> tuple[str, object]:
    try:
        return ("ok", fn(value))
    except RecursionError:
        return ("error", RecursionError)
    except Exception as exc:
        return ("error", type(exc))


def assert_same(value: object) -> None:
    assert outcome(canonical_json, value) == outcome(rfc8785.dumps, value), repr(value)


# --- random values -------------------------------------------------------------

CHARS = [
    *"abcAB_-:/ ",
    *['"', "\\", "\x00", "\x01", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f"],
    *["\x7f", "\x80", "é", "\u2028", "\u2029", "\u4e2d", "\ud7ff", "\ufeff"],
    *["\ue000", "\uf8ff", "\uffff", "\ufffd"],
    *["\U00010000", "\U0001f600", "\U0010ffff"],
]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
KEY_CHARS = ["a", "b", "é", "\u4e2d", "\ue000", "\uffff", "\U00010000", "\U0001f600"]

INTS = [0, 1, -1, 42, MAX, -MAX, MAX + 1, -MAX - 1, 2**53 + 7, 2**64, -(2**64), 10**30]

FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    0.1,
    -2.75,
    1e-4,
    -1e-4,
    math.nextafter(1e-4, 0.0),
    math.nextafter(1e-4, 1.0),
    1e-5,
    1e-6,
    1e-7,
    2.5e-7,
    1e16,
    math.nextafter(1e16, 0.0),
    1e21,
    1e22,
    2.0**52 - 0.5,
    2.0**52,
    2.0**53,
    123.456,
    5e-324,
    1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
]


def random_float(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(FLOATS)
    if pick < 0.5:
        (f,) = struct.unpack("<d", rng.randbytes(8))
        return float(f)
    if pick < 0.6:
        return float(rng.randint(-(10**6), 10**6))
    return rng.choice((-1, 1)) * 10 ** rng.uniform(-9, 23)


def random_int(rng: random.Random) -> int:
    if rng.random() < 0.5:
        return rng.randint(-1000, 1000)
    base = rng.choice(INTS)
    return base + rng.randint(-2, 2) if rng.random() < 0.3 else base


def random_str(rng: random.Random, surrogates: float = 0.03) -> str:
    chars = []
    for _ in range(rng.randint(0, 8)):
        if rng.random() < surrogates:
            chars.append(rng.choice(SURROGATES))
        else:
            chars.append(rng.choice(CHARS))
    return "".join(chars)


def random_key(rng: random.Random) -> object:
    pick = rng.random()
    if pick < 0.35:
        return rng.choice(["id", "type", "at", "data", "a", "b", "ab", ""])
    if pick < 0.8:
        # Short keys over a small alphabet, so that keys with astral and
        # private-use characters meet at the same position.
        return "".join(rng.choice(KEY_CHARS) for _ in range(rng.randint(1, 3)))
    if pick < 0.9:
        return random_str(rng, surrogates=0.01)
    if pick < 0.95:
        return rng.choice(list(Colour))
    return rng.choice([1, 2.5, None, True, (1,), Level.LOW, Shouty("a"), Backwards("z")])


def random_scalar(rng: random.Random) -> object:
    pick = rng.random()
    if pick < 0.3:
        return random_str(rng)
    if pick < 0.5:
        return random_int(rng)
    if pick < 0.6:
        return random_float(rng)
    if pick < 0.75:
        return rng.choice([True, False, None])
    if pick < 0.85:
        return rng.choice(list(Colour))
    if pick < 0.9:
        return rng.choice(list(Level))
    if pick < 0.95:
        return rng.choice([Shouty("x\n"), Backwards("y"), Lying(1.5), Skewed(3)])
    return rng.choice([b"x", {1, 2}, frozenset(), object(), complex(1, 2)])


def random_value(rng: random.Random, depth: int = 0) -> object:
    pick = rng.random()
    if depth >= 4 or pick < 0.45:
        return random_scalar(rng)
    size = rng.randint(0, 5)
    if pick < 0.75:
        return {random_key(rng): random_value(rng, depth + 1) for _ in range(size)}
    items = [random_value(rng, depth + 1) for _ in range(size)]
    if pick < 0.85:
        return tuple(items)
    if pick < 0.97:
        return items
    return rng.choice([OrderedDict(a=1, b=items), ReversedList(items), MappingProxyType({"a": 1})])


def test_random_values_match_rfc8785() -> None:
    rng = random.Random(8785)
    fast = slow = errors = 0
    for _ in range(40_000):
        value = random_value(rng)
        expected = outcome(rfc8785.dumps, value)
        assert outcome(canonical_json, value) == expected, repr(value)
        if expected[0] == "error":
            errors += 1
        if _fast_ok(value):
            fast += 1
        else:
            slow += 1
    # The generator reaches both paths and the error cases in earnest.
    assert fast > 10_000 and slow > 10_000 and errors > 2_000, (fast, slow, errors)


def test_random_ledger_like_entries_take_the_fast_path_and_match() -> None:
    rng = random.Random(9162)
    for _ in range(5_000):
        entry: dict[str, Any] = {
            "id": random_str(rng, surrogates=0),
            "type": rng.choice(["receipt:succeeded", "case:opened", Colour.RED]),
            "at": "2026-11-25T09:00:00+00:00",
            "data": {
                "".join(
                    rng.choice("abcdefghé_\u4e2d") for _ in range(rng.randint(1, 6))
                ): rng.choice(
                    [random_str(rng, surrogates=0), rng.randint(-MAX, MAX), True, None, 0.25]
                )
                for _ in range(rng.randint(0, 8))
            },
            "list": [rng.randint(0, 10) for _ in range(rng.randint(0, 3))],
        }
        assert _fast_ok(entry)
        assert canonical_json(entry) == rfc8785.dumps(entry)


def test_random_floats_match_rfc8785() -> None:
    rng = random.Random(754)
    for _ in range(100_000):
        value = random_float(rng)
        assert outcome(canonical_json, value) == outcome(rfc8785.dumps, value), repr(value)


# --- each difference, by hand ----------------------------------------------------

EDGE_CASES: list[tuple[str, object, bool]] = [
    # (label, value, fast path admitted)
    ("astral vs private-use keys", {"\U0001f600": 1, "\ue000": 2}, False),
    ("astral vs U+FFFF keys", {"a\U00010000": 1, "a\uffff": 2}, False),
    ("astral key alone", {"\U0001f600": 1}, False),
    ("BMP non-ASCII keys", {"\ue000": 1, "é": 2, "\u4e2d": 3, "\uffff": 4, "z": 5}, True),
    ("key prefix order", {"ab": 1, "a": 2, "": 3, "b": 4}, True),
    ("int key", {1: 2}, False),
    ("bool key", {True: 1}, False),
    ("None key", {None: 1}, False),
    ("float key", {2.5: 1}, False),
    ("tuple key", {(1,): 1}, False),
    ("StrEnum key", {Colour.RED: 1, "a": 2}, False),
    ("StrEnum key, same text as a str key", {Colour.RED: 1, "red": 2}, False),
    ("str subclass key with lying encode", {Shouty("b"): 1, "a": 2}, False),
    ("str subclass key sorting backwards", {Backwards("a"): 1, Backwards("b"): 2}, False),
    ("surrogate key", {"\ud800": 1}, True),
    ("surrogate key among others", {"\ud800": 1, "b": 2}, True),
    ("surrogate value", "\ud800", True),
    ("surrogate pair as two code points", "\ud83d\ude00", True),
    ("nested surrogate", {"a": ["ok", {"b": "x\udfff"}]}, True),
    ("control characters", "".join(map(chr, range(0x20))), True),
    ("short escapes", '"\\\b\f\n\r\t', True),
    ("DEL, LS, PS, slash", "\x7f\u2028\u2029/", True),
    ("astral value", "\U0001f600\U0010ffff", True),
    ("integral float", 1.0, False),
    ("negative zero", -0.0, False),
    ("zero", 0.0, False),
    ("1e16", 1e16, False),
    ("1e21", 1e21, False),
    ("1e-5", 1e-5, False),
    ("1e-7", 1e-7, False),
    ("just below 1e-4", math.nextafter(1e-4, 0.0), False),
    ("1e-4", 1e-4, True),
    ("0.5", 0.5, True),
    ("-123.456", -123.456, True),
    ("2**52 - 0.5", 2.0**52 - 0.5, True),
    ("nan", math.nan, False),
    ("inf", math.inf, False),
    ("-inf", -math.inf, False),
    ("float subclass", Lying(1.5), False),
    ("max int", MAX, True),
    ("min int", -MAX, True),
    ("int above range", MAX + 1, False),
    ("int below range", -MAX - 1, False),
    ("huge int", 10**400, False),
    ("int subclass", Skewed(3), False),
    ("IntEnum", Level.LOW, False),
    ("IntEnum out of range", Level.HUGE, False),
    ("True", True, True),
    ("False", False, True),
    ("None", None, True),
    ("StrEnum value", Colour.ESCAPED, True),
    ("StrEnum astral value", [Colour.ASTRAL, Colour.PRIVATE], True),
    ("str subclass value with lying encode", Shouty("x\n"), False),
    ("tuple", (1, "a", (None,)), True),
    ("empty containers", [{}, [], ()], True),
    ("list subclass", ReversedList([1, 2]), False),
    ("dict subclass", OrderedDict([("b", 1), ("a", 2)]), False),
    ("dict subclass with lying items()", FakeItems(a=2), False),
    ("mapping proxy", MappingProxyType({"a": 1}), False),
    ("set", {1}, False),
    ("bytes", b"x", False),
    ("object", object(), False),
    ("nested big int", {"a": [1, {"b": MAX + 1}]}, False),
]


@pytest.mark.parametrize(
    ("value", "admitted"), [c[1:] for c in EDGE_CASES], ids=[c[0] for c in EDGE_CASES]
)
def test_edge_cases_match_rfc8785(value: object, admitted: bool) -> None:
    assert _fast_ok(value) is admitted
    assert_same(value)


def test_key_order_is_utf16_order() -> None:
    # UTF-16 puts U+1F600 (D83D DE00) before U+E000; code points the other way.
    value = {"\U0001f600": 1, "\ue000": 2}
    assert canonical_json(value) == '{"\U0001f600":1,"\ue000":2}'.encode()


def test_errors_are_rfc8785_errors() -> None:
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json({"a": [2**53]})
    with pytest.raises(rfc8785.FloatDomainError):
        canonical_json({"a": math.nan})
    with pytest.raises(rfc8785.CanonicalizationError, match="non-UTF-8"):
        canonical_json({"a": "\ud800"})
    with pytest.raises(rfc8785.CanonicalizationError, match="keys must be strings"):
        canonical_json({1: "a"})


def test_deep_nesting_falls_back() -> None:
    limit = canonical._MAX_DEPTH
    for depth in (limit - 1, limit, limit + 1, 200):
        value: object = "leaf"
        for _ in range(depth):
            value = {"a": [value]} if depth % 2 else [value]
        assert_same(value)
    shallow: object = 1
    for _ in range(limit):
        shallow = [shallow]
    assert _fast_ok(shallow)
    assert not _fast_ok([shallow])


def test_dicts_nested_to_the_limit_take_the_fast_path() -> None:
    """Each nested object spends one level, like each list: 32 take the fast
    path, 33 do not."""
    nested: object = 1
    for _ in range(canonical._MAX_DEPTH):
        nested = {"a": nested}
    assert _fast_ok(nested)
    assert not _fast_ok({"a": nested})
    assert_same(nested)


def test_cycles_fall_back_to_rfc8785() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    looped: dict[str, object] = {}
    looped["self"] = {"again": looped}
    for value in (cycle, looped):
        assert not _fast_ok(value)
        with pytest.raises(RecursionError):
            canonical_json(value)


def test_a_ledger_entry_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    entry: dict[str, Any] = {
        "id": "0b9d7f3e-4a7c-4f43-9d5e-0c7b1c8f2a11",
        "type": "receipt:succeeded",
        "at": "2026-11-25T09:00:00+00:00",
        "data": {"target": "ldap", "attempt": 1, "ok": True, "none": None},
    }
    assert _fast_ok(entry)
    expected = rfc8785.dumps(entry)

    def refuse(value: object) -> bytes:
        raise AssertionError("slow path taken")

    monkeypatch.setattr(rfc8785, "dumps", refuse)
    assert canonical_json(entry) == expected
    assert expected == (
        b'{"at":"2026-11-25T09:00:00+00:00","data":{"attempt":1,"none":null,"ok":true,'
        b'"target":"ldap"},"id":"0b9d7f3e-4a7c-4f43-9d5e-0c7b1c8f2a11",'
        b'"type":"receipt:succeeded"}'
    )
