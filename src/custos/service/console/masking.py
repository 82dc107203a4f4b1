"""Contacts as the console shows them: enough for an agent to say "the code went
to your address starting with j at example.org", never the whole address (a
caller who does not know it learns nothing to repeat back)."""

from __future__ import annotations

from custos.domain.model import ContactKind

HIDDEN = "***"


def mask_email(address: str) -> str:
    """``jane.doe@example.org`` -> ``j***@example.org``; no ``@``: fully hidden."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return HIDDEN
    return f"{local[0]}{HIDDEN}@{domain}"


def mask_phone(number: str) -> str:
    """``+491701234567`` -> ``***67``: the last two digits only."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 6:
        return HIDDEN
    return HIDDEN + "".join(digits[-2:])


def mask_contact(kind: ContactKind, address: str) -> str:
    return mask_email(address) if kind == ContactKind.EMAIL else mask_phone(address)
