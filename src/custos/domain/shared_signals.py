"""Shared signals (OpenID SSF 1.0, CAEP 1.0): the vocabulary of Custos as a
transmitter, and the Security Event Tokens (RFC 8417) it sends, as plain claims.

A *stream* is one receiver's subscription (SSF §8.1.1): where SETs are pushed
(RFC 8935), which event types it asked for, under which audience. A SET holds
exactly one event (SSF §4.2.1), never ``sub`` nor ``exp`` (SSF §4.1.2, §4.1.7); the
subject is the top-level ``sub_id`` (RFC 9493). Signing and delivery are not
here: this module only says what the claims are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from custos.domain.identities import Channel

CAEP: Final = "https://schemas.openid.net/secevent/caep/event-type/"
SSF: Final = "https://schemas.openid.net/secevent/ssf/event-type/"
CREDENTIAL_CHANGE: Final = f"{CAEP}credential-change"
SESSION_REVOKED: Final = f"{CAEP}session-revoked"
VERIFICATION: Final = f"{SSF}verification"

#: The event types Custos sends on a stream that asked for them, in this order.
EVENTS_SUPPORTED: Final = (CREDENTIAL_CHANGE, SESSION_REVOKED)
#: RFC 8935 push delivery: the only method Custos offers.
PUSH: Final = "urn:ietf:rfc:8935"
POLL: Final = "urn:ietf:rfc:8936"
#: The JOSE ``typ`` of every SET (SSF §4.1.1, RFC 8417 §2.3).
SET_TYPE: Final = "secevent+jwt"
#: The media type of a pushed SET (RFC 8935 §2).
SET_MEDIA_TYPE: Final = "application/secevent+jwt"
SPEC_VERSION: Final = "1_0"

#: CAEP ``initiating_entity`` per recovery channel: the subject recovering alone
#: is the user; the help desk and owners act as administrators; a campaign is
#: a policy decision.
INITIATING_ENTITY: Final = {
    Channel.SELF_SERVICE: "user",
    Channel.HELPDESK: "admin",
    Channel.OWNER_REQUEST: "admin",
    Channel.CAMPAIGN: "policy",
}
#: How much of a case's reason travels in ``reason_admin``.
REASON_CHARS: Final = 300


class StreamStatus(StrEnum):
    """SSF §8.1.2: enabled streams transmit; paused ones hold their SETs until
    enabled again; disabled ones neither transmit nor hold."""

    ENABLED = "enabled"
    PAUSED = "paused"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Stream:
    """One receiver's stream. The push ``Authorization`` value is a secret kept
    sealed in the store: the stream only says whether there is one."""

    id: str
    audience: tuple[str, ...]
    endpoint_url: str
    events_requested: tuple[str, ...]
    description: str | None
    status: StreamStatus
    status_reason: str | None
    created_at: datetime
    updated_at: datetime
    has_authorization: bool = False
    last_verification_at: datetime | None = None

    @property
    def events_delivered(self) -> tuple[str, ...]:
        """The supported event types the receiver asked for (SSF §8.1.1)."""
        return tuple(e for e in EVENTS_SUPPORTED if e in self.events_requested)

    @property
    def holds_events(self) -> bool:
        """Whether SETs are written for this stream (sent now or once enabled)."""
        return self.status != StreamStatus.DISABLED


def audience_claim(audience: tuple[str, ...]) -> str | list[str]:
    """``aud`` as SSF shows it: one string, or an array for several values."""
    return audience[0] if len(audience) == 1 else list(audience)


def email_subject(address: str) -> dict[str, object]:
    return {"format": "email", "email": address}


def iss_sub_subject(issuer: str, subject_id: str) -> dict[str, object]:
    return {"format": "iss_sub", "iss": issuer, "sub": subject_id}


def stream_subject(stream_id: str) -> dict[str, object]:
    """The subject of a verification event: the stream itself (SSF §8.1.4.1)."""
    return {"format": "opaque", "id": stream_id}


@dataclass(frozen=True, slots=True)
class Envelope:
    """The claims every SET of one stream shares."""

    issuer: str
    audience: tuple[str, ...]
    jti: str
    issued_at: datetime

    def claims(
        self, subject: dict[str, object], event_type: str, event: dict[str, object], txn: str | None
    ) -> dict[str, object]:
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": audience_claim(self.audience),
            "iat": int(self.issued_at.timestamp()),
            "jti": self.jti,
            "sub_id": subject,
            "events": {event_type: event},
        }
        if txn is not None:
            claims["txn"] = txn
        return claims


def _reason(text: str) -> dict[str, object]:
    return {"en": text}


def credential_change(
    *, channel: Channel, occurred_at: datetime, reason_admin: str
) -> dict[str, object]:
    """CAEP §3.3: the password was replaced (``update``) by a recovery."""
    return {
        "credential_type": "password",
        "change_type": "update",
        "initiating_entity": INITIATING_ENTITY[channel],
        "reason_admin": _reason(reason_admin),
        "event_timestamp": int(occurred_at.timestamp()),
    }


def session_revoked(
    *, channel: Channel, occurred_at: datetime, reason_admin: str
) -> dict[str, object]:
    """CAEP §3.1: the subject's sessions were ended; receivers end theirs."""
    return {
        "initiating_entity": INITIATING_ENTITY[channel],
        "reason_admin": _reason(reason_admin),
        "event_timestamp": int(occurred_at.timestamp()),
    }


def verification(state: str | None) -> dict[str, object]:
    """SSF §8.1.4.1: echoes the receiver's ``state`` when it gave one."""
    return {} if state is None else {"state": state}


def recovery_reason(*, case_id: str, tier: str, channel: Channel, reason: str, what: str) -> str:
    """The ``reason_admin`` text of a recovery's SETs (R-31: with the reason)."""
    given = " ".join(reason.split())[:REASON_CHARS]
    return f"Custos recovery case {case_id} ({channel}, tier {tier}): {what}. Reason: {given}"
