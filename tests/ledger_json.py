"""A ledger entry as the tests read it back: the JSON of its ``canonical``
column (``DomainEvent.canonical`` in custos.domain.events), typed for mypy.
``data`` holds what each event type carries, so it stays open."""

from __future__ import annotations

import json
from typing import Any, TypedDict


class LedgerEvent(TypedDict):
    type: str
    time: str
    source: str
    actor: str
    subject: str | None
    case: str | None
    outcome: str
    reason: str
    data: dict[str, Any]


def ledger_event(canonical: str) -> LedgerEvent:
    """One entry's canonical JSON, read."""
    event: LedgerEvent = json.loads(canonical)
    return event
