"""RFC 8785 (JCS) canonical JSON, fast: :func:`canonical_json` returns exactly the
bytes of ``rfc8785.dumps(value)`` (or raises exactly what it raises), for every
input, but serialises the common ledger entry with the C encoder of the stdlib
``json`` module instead of the pure-Python ``rfc8785`` encoder.

The fast path is ``json`` with ``ensure_ascii=False``, ``separators=(",", ":")``,
``sort_keys=True``, ``allow_nan=False``, encoded to UTF-8. It is taken only when
one recursive walk over the value (:func:`_fast_ok`, no serialisation) proves the
value holds nothing on which the two encoders differ; anything else, and any
exception on the fast path, goes to ``rfc8785.dumps``, which is the reference
and so also decides every error.

Where stdlib ``json`` and ``rfc8785`` differ, and how the guard avoids it:

* **Object key order.** RFC 8785 sorts keys by their UTF-16 code units,
  ``json`` by code points (it sorts the ``(key, value)`` item tuples). The two
  orders agree unless a key holds a character above U+FFFF (a surrogate pair,
  D800..DBFF first, in UTF-16), which sorts below U+E000..U+FFFF in UTF-16 and
  above it by code point. The guard requires every key to be ASCII (an O(1)
  check) or free of characters above U+FFFF; then every character is one code
  unit equal to its code point and both orders are the same lexicographic order.
* **Key types.** ``rfc8785`` raises ``CanonicalizationError`` on a non-``str``
  key; ``json`` converts ``int``/``float``/``bool``/``None`` keys to strings.
  The guard requires keys of exact type ``str``: a subclass (a ``StrEnum``
  member, say) could change ``encode`` (the ``rfc8785`` sort key) or ``==``/``<``
  (the ``json`` tuple sort), or carry its own ``__hash__``/``__eq__`` so that two
  keys with the same text sit in one dict, which ``json`` would then order by
  their values and ``rfc8785`` by insertion. Exact ``str`` keys are unique by
  text, so the ``json`` sort never compares values. Such keys take the slow path.
* **Floats.** RFC 8785 prints numbers as ECMAScript does (``1`` for ``1.0``,
  ``0`` for ``-0.0``, ``1e+21`` but ``100000000000000000000``, ``0.00001``), which
  ``rfc8785`` derives from ``str(f)``; ``json`` prints ``float.__repr__``
  (``1.0``, ``-0.0``, ``1e+16``, ``1e-05``). The guard admits only floats of exact
  type ``float`` with ``1e-4 <= abs(f) < 1e16`` that are not integral: ``repr``
  writes exactly these (all finite, non-integral floats are below 2**52) in
  positional notation with a fractional part other than ``0``, and for such a
  string ``rfc8785`` emits ``str(f)`` unchanged (its sign handling prints
  ``"-" + str(-f)``, the same text), i.e. the very characters ``json`` writes.
  NaN and infinities fail the range test. Float subclasses are excluded
  because ``rfc8785`` calls ``float(obj)``, which may run an overridden
  ``__float__``; ``json`` reads the raw value.
* **Integers.** ``rfc8785`` raises ``IntegerDomainError`` outside
  ±(2**53 - 1); ``json`` prints any integer. The guard admits only exact ``int``
  within that range (``int`` subclasses such as ``IntEnum`` members go to the slow
  path: ``rfc8785`` calls ``int(obj)``, which may run an overridden ``__int__``).
  Both print in range integers as ``int.__repr__``.
* **bool and None** print as ``true``/``false``/``null`` in both (``bool`` cannot
  be subclassed, and is tested before ``int`` in both encoders).
* **String escaping.** Both escape ``"`` and ``\\`` and the short forms ``\\b``,
  ``\\f``, ``\\n``, ``\\r``, ``\\t``, write the other characters below U+0020 as
  ``\\u00xx`` with lower-case hex, and write everything else verbatim, including
  U+007F, U+2028, U+2029 and ``/`` (RFC 8785 §3.2.2.2; ``json`` with
  ``ensure_ascii=False``). No guard needed.
* **Surrogates.** A lone surrogate (or a surrogate pair stored as two code
  points) makes ``rfc8785`` raise (``CanonicalizationError``, or the
  ``UnicodeEncodeError`` of its UTF-16 sort key when in a key); ``json`` copies it
  into its output. The guard does not scan strings for them: the final strict
  ``.encode("utf-8")`` of the fast path rejects every surrogate, in C, and the
  value then goes to ``rfc8785``, which raises its own error.
* **str subclasses as values** (``StrEnum`` members): both serialise the
  underlying text (``json`` reads it directly; ``rfc8785`` escapes with
  ``re.sub``, which reads it directly and returns an exact ``str``). To keep this
  independent of ``re`` internals, the guard admits a subclass only if it
  inherits ``str.encode``, the one method ``rfc8785`` calls on a string.
* **Containers.** ``rfc8785`` accepts ``list``/``tuple`` and ``dict`` including
  subclasses, copying them with ``list(obj)``/``dict(obj)``; ``json`` iterates
  list/tuple subclasses and calls ``items()`` on dict subclasses. The two reach
  a subclass's overridable methods differently (``dict(obj)`` copies a dict
  subclass without calling an overridden ``items()``, which ``json`` calls), so
  the guard admits exact ``list``, ``tuple`` and ``dict`` only; both encoders
  write a tuple as an array. Any other type (``set``, ``bytes``, a ``Mapping``
  that is not a dict, ...) goes to the slow path, where ``rfc8785`` raises
  ``CanonicalizationError``.
* **Nesting and cycles.** The guard rejects values nested deeper than
  :data:`_MAX_DEPTH` containers, so a cyclic value (on which ``rfc8785`` dies with
  ``RecursionError``) always takes the slow path, and the fast path runs
  ``json`` without its circular-reference check. The one behaviour left that is
  not a function of the value is stack exhaustion: called with the interpreter
  stack nearly at its recursion limit, ``rfc8785`` can raise ``RecursionError`` on
  a shallow value that the fast path serialises correctly.

Every value the guard admits is thus serialised by ``json`` into the same
characters ``rfc8785`` writes, and both encode them as strict UTF-8; everything
else is ``rfc8785``'s. The tests compare the two over tens of thousands of
random values and each case above.

:func:`canonical_event` is ``canonical_json`` of one ledger entry (the entry id
and ``DomainEvent.canonical()``), cheaper for the entry's known shape: its ten
keys are fixed ASCII strings, so their RFC 8785 order is fixed
(:data:`_EVENT_ORDER`), nine values are ``str`` (two may be ``None``) and only
``data`` needs the guard. The text is written key by key with the ``json``
string escaper (``json.encoder.encode_basestring``, the very function the
encoder above uses for strings with ``ensure_ascii=False``) and ``data`` by the
encoder; anything outside that shape is ``canonical_json``'s.
"""

from __future__ import annotations

import json
import json.encoder
import re
from operator import itemgetter
from typing import Any

import rfc8785

from custos.domain.events import DomainEvent

__all__ = ["canonical_event", "canonical_json"]

#: Largest magnitude of an integer RFC 8785 accepts (IEEE 754 double precision).
_INT_MAX = 2**53 - 1

#: Deepest container nesting the fast path takes (ledger entries are shallow).
_MAX_DEPTH = 32

#: A character above U+FFFF: a surrogate pair in UTF-16.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"), sort_keys=True,
#: allow_nan=False)``, built once; the circular check is the guard's depth limit.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    allow_nan=False,
    check_circular=False,
)

_STR_ENCODE = str.encode

#: The C encoder ``_ENCODER.encode`` builds on every call (a third of its time
#: on a ledger entry), built once with the same arguments; see :func:`_dumps`.
_C_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None,  # markers: no circular check (the guard's depth limit)
    _ENCODER.default,
    json.encoder.encode_basestring,  # ensure_ascii=False
    None,  # indent
    ":",
    ",",
    True,  # sort_keys
    False,  # skipkeys
    False,  # allow_nan
)


#: The keys of a ledger entry in RFC 8785 order (ASCII: code unit order).
_EVENT_ORDER = (
    "actor",
    "case",
    "data",
    "id",
    "outcome",
    "reason",
    "source",
    "subject",
    "time",
    "type",
)
_EVENT_KEYS = frozenset(_EVENT_ORDER)
#: The entry's values besides ``data``, in that order, and their admitted types.
_event_texts = itemgetter(*(key for key in _EVENT_ORDER if key != "data"))
_PLAIN = frozenset({str, type(None)})
_quote = json.encoder.encode_basestring


def canonical_json(value: object) -> bytes:
    """The RFC 8785 canonical JSON of ``value``: the bytes ``rfc8785.dumps(value)``
    returns, raising what it raises, computed with the stdlib C encoder when
    :func:`_fast_ok` proves the two agree on ``value``."""
    try:
        if _ok(value, _MAX_DEPTH):
            return _dumps(value).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        # A surrogate failing the strict UTF-8 encoding (or the stack running
        # out): the reference encoder decides, and raises its own error.
        pass
    reference: Any = value  # rfc8785 types its input as JSON-like; it decides
    return rfc8785.dumps(reference)


def canonical_event(event_id: str, event: DomainEvent) -> bytes:
    """``canonical_json({"id": event_id, **event.canonical()})``, the bytes a
    ledger leaf hashes, raising what that raises.

    When ``event`` is a ``DomainEvent`` itself (a subclass may override
    ``canonical``), its entry has exactly the ten keys of :data:`_EVENT_ORDER`
    (literal ``str`` in ``DomainEvent.canonical``), the nine besides ``data``
    hold exact ``str`` or ``None`` and ``data`` passes the guard, the object is
    written in that fixed key order: ``case`` and ``subject`` as ``null`` when
    ``None``, each string as the ``json`` encoder writes it, ``data`` by the
    encoder. Both encoders write an exact ``str`` alike up to a surrogate,
    which the strict UTF-8 encoding rejects; another ``None`` makes the string
    escaper raise ``TypeError``. Either way ``canonical_json`` then decides."""
    if type(event) is not DomainEvent:
        return canonical_json({"id": event_id, **event.canonical()})
    entry = event.canonical()
    entry["id"] = event_id
    if entry.keys() == _EVENT_KEYS:
        texts = _event_texts(entry)
        if _PLAIN.issuperset(map(type, texts)):
            actor, case, id_, outcome, reason, source, subject, time, kind = texts
            data = entry["data"]
            try:
                if _ok(data, _MAX_DEPTH - 1):
                    return (
                        f'{{"actor":{_quote(actor)},'
                        f'"case":{"null" if case is None else _quote(case)},'
                        f'"data":{_dumps(data)},"id":{_quote(id_)},'
                        f'"outcome":{_quote(outcome)},"reason":{_quote(reason)},'
                        f'"source":{_quote(source)},'
                        f'"subject":{"null" if subject is None else _quote(subject)},'
                        f'"time":{_quote(time)},"type":{_quote(kind)}}}'
                    ).encode()
            except (ValueError, TypeError, RecursionError):
                pass  # a surrogate, a None the escaper refuses (or the stack)
    return canonical_json(entry)


def _dumps(value: Any) -> str:
    """``_ENCODER.encode(value)``, without building the C encoder each time."""
    return "".join(_C_ENCODE(value, 0))


def _fast_ok(value: object) -> bool:
    """Does stdlib ``json`` provably serialise ``value`` as RFC 8785 does, up to a
    surrogate (which the fast path's UTF-8 encoding catches)?"""
    return _ok(value, _MAX_DEPTH)


def _ok(value: Any, depth: int) -> bool:
    """The guard: one walk, scalars checked inline to save calls."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_INT_MAX <= value <= _INT_MAX)
    if kind is dict:
        if not depth:
            return False
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _ASTRAL.search(key) is None):
                return False
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if not _ok(item, depth - 1):
                return False
        return True
    if kind is list or kind is tuple:
        if not depth:
            return False
        for item in value:
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if not _ok(item, depth - 1):
                return False
        return True
    if kind is float:
        return bool(1e-4 <= abs(value) < 1e16 and not value.is_integer())
    return isinstance(value, str) and kind.encode is _STR_ENCODE
