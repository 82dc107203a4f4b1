"""Writing SETs to the SET outbox, sealed, in the caller's transaction.

A row holds the SET's claims (not yet signed: the worker signs at push time with
the key active then, so a rotation never strands a queued SET), sealed with the
sealing key and bound to the row id: the claims name the subject (an email
address) and the case's reason. The ``jti`` and ``iat`` are fixed here, so
every attempt pushes the same SET and a receiver can drop duplicates by
``jti`` (delivery is at least once)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from custos.credentials import seal_contexts
from custos.domain.shared_signals import Envelope, Stream
from custos.service.ports import Services
from custos.store.ssf_repository import SetRow

_last_stamp = 0
_stamp_lock = threading.Lock()


def ordered_id() -> str:
    """A UUID-shaped id whose first half is a nanosecond stamp, strictly growing
    in this process: rows sort in the order written, so a stream's SETs go out
    in that order."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(_last_stamp + 1, time.time_ns())
        stamp = _last_stamp
    return str(uuid.UUID(int=(stamp << 64) | secrets.randbits(64)))


def issuer(svc: Services) -> str:
    """The transmitter's issuer: the configured public origin (never a Host header)."""
    return svc.settings.public_origin


def queued(
    svc: Services,
    stream: Stream,
    *,
    subject: dict[str, object],
    event_type: str,
    event: dict[str, object],
    txn: str | None,
    subject_id: str | None,
    case_id: str | None,
    now: datetime,
) -> SetRow:
    """The outbox row of one SET for ``stream`` (add it with ``uow.ssf_outbox``)."""
    row_id = ordered_id()
    jti = secrets.token_hex(16)
    envelope = Envelope(issuer=issuer(svc), audience=stream.audience, jti=jti, issued_at=now)
    claims = envelope.claims(subject, event_type, event, txn)
    plain = json.dumps(claims, separators=(",", ":"), sort_keys=True)
    return SetRow(
        id=row_id,
        stream_id=stream.id,
        event_type=event_type,
        jti=jti,
        subject_id=subject_id,
        case_id=case_id,
        sealed=svc.sealer.seal(plain, aad=seal_contexts.set_outbox(row_id)),
        queued_at=now,
    )


def claims_of(svc: Services, row: SetRow) -> dict[str, Any]:
    """The claims a row holds. Raises SealError when it does not unseal."""
    claims: dict[str, Any] = json.loads(
        svc.sealer.unseal(row.sealed, aad=seal_contexts.set_outbox(row.id))
    )
    return claims
