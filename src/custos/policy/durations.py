"""Durations in policy files: ``"90s"``, ``"10m"``, ``"4h"``, ``"2d"``, ``"1h30m"``
(``custos.policy.schema`` re-exports both functions)."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Six digits per part keep every value far from timedelta's overflow.
_DURATION_WHOLE = re.compile(r"(?:\d{1,6}[smhd])+")
_DURATION_PART = re.compile(r"(\d{1,6})([smhd])")


def parse_duration(value: object) -> timedelta:
    """Return the positive timedelta spelled by ``value``: ``"90s"``, ``"10m"``,
    ``"4h"``, ``"2d"`` or a compound such as ``"1h30m"``; a positive timedelta
    passes through. Raises :class:`ValueError` for numbers without a unit (a unit
    is never guessed), zero, negative or malformed values."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DURATION_WHOLE.fullmatch(text):
            raise ValueError(
                f"'{value}' is not a duration; write e.g. '90s', '10m', '4h', '2d' or '1h30m'"
            )
        seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))
        result = timedelta(seconds=seconds)
    else:
        raise ValueError(
            f"a duration must be a string such as '10m' or '4h', not {type(value).__name__}"
        )
    if result <= timedelta(0):
        raise ValueError(f"a duration must be positive, got '{value}'")
    return result


def format_duration(value: timedelta) -> str:
    """Spell ``value`` in whole units, e.g. 90 minutes -> ``"1h30m"``."""
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit, size in sorted(_DURATION_UNITS.items(), key=lambda item: -item[1]):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
