"""Edits of policy YAML text for tests: replace within one tier, drop a tier."""

from __future__ import annotations


def edited(old: str, new: str, text: str) -> str:
    """``text`` with its one ``old`` replaced by ``new``."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _tier_span(name: str, text: str) -> tuple[int, int]:
    start = text.index(f"  - name: {name}\n")
    end = text.find("  - name:", start + 1)
    return start, len(text) if end < 0 else end


def in_tier(name: str, old: str, new: str, text: str) -> str:
    """``text`` with ``old`` replaced by ``new`` within the tier called ``name``."""
    start, end = _tier_span(name, text)
    return text[:start] + edited(old, new, text[start:end]) + text[end:]


def without_tier(name: str, text: str) -> str:
    """``text`` without the tier called ``name`` (up to the next tier)."""
    start, end = _tier_span(name, text)
    return text[:start] + text[end:]
