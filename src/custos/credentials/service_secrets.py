"""Secrets Custos generates for service accounts (R-40, R-42): drawn from the
operating system's CSPRNG (:mod:`secrets`), each character uniformly from the
policy's alphabet. The value is handed once to the owner and to the targets,
never logged."""

from __future__ import annotations

import secrets


def generate(length: int, alphabet: str) -> str:
    """``length`` characters, each drawn uniformly from ``alphabet``. Raises
    ValueError for an empty alphabet or a length under one."""
    if length < 1 or not alphabet:
        raise ValueError("a secret needs a length and an alphabet")
    return "".join(secrets.choice(alphabet) for _ in range(length))
