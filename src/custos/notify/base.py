"""The notifier protocol and the message it carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one address. ``kind`` names the template (e.g. ``reset_link``)
    so tests and the outbox can find a message without parsing its body. ``body``
    is the plain-text part (always present); ``html`` an optional alternative."""

    to: str
    subject: str
    body: str
    kind: str
    case_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None


class Notifier(Protocol):
    def send(self, message: Message) -> None:
        """Deliver ``message``. Raises NotificationFailed when it cannot."""
        ...


class NotificationFailed(Exception):
    """The message could not be handed to its channel."""
