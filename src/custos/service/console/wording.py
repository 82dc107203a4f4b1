"""An error as the console says it: the domain's message as one sentence,
or the plain words a page keeps for the rule the domain named
(``details["rule"]``)."""

from __future__ import annotations

from collections.abc import Mapping

from custos.domain.errors import DomainError


def as_sentence(exc: DomainError, *, tail: str = ".") -> str:
    """The error's own message, capitalised, ending with ``tail``."""
    return exc.message[:1].upper() + exc.message[1:] + tail


def rule_words(exc: DomainError, rules: Mapping[str, str]) -> str | None:
    """The sentence ``rules`` keeps for the rule ``exc`` names, if any."""
    rule = exc.details.get("rule")
    return rules[rule] if isinstance(rule, str) and rule in rules else None
