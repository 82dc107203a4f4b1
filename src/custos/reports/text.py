"""How figures read in prose: counts per key and durations."""

from __future__ import annotations

from collections.abc import Mapping


def counts(values: Mapping[str, int], *, empty: str = "none") -> str:
    """``{"completed": 5, "needs_attention": 1}`` as ``completed 5, needs attention 1``."""
    if not values:
        return empty
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())


def duration(seconds: float | None) -> str:
    """``3 min 05 s``, ``2 h 10 min``; ``n/a`` for None."""
    if seconds is None:
        return "n/a"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
