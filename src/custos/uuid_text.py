"""The canonical 8-4-4-4-12 spelling of a UUID from its 32 hex digits, as
``str(uuid.UUID(...))`` writes it, without building a ``UUID`` object: ledger
entry ids and outbox row ids are made by the thousand per batch."""

from __future__ import annotations


def uuid_text(hex_digits: str, at: int = 0) -> str:
    """The UUID spelled from the 32 lowercase hex digits of ``hex_digits``
    starting at ``at``."""
    h = hex_digits
    return (
        f"{h[at : at + 8]}-{h[at + 8 : at + 12]}-{h[at + 12 : at + 16]}-"
        f"{h[at + 16 : at + 20]}-{h[at + 20 : at + 32]}"
    )
