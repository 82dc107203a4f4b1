"""Signals that arrive from outside a request: a carrier's signed SIM-swap or
number-porting webhook (R-44) and incidents declared by an administrator.

Webhook contract (``POST /api/v1/signals/sim-swap``): the body is JSON
``{"subject": ID, "kind": "sim_swap"|"port_out", "observed_at": ISO-8601 (optional),
"provider": NAME (optional)}``; the headers are ``X-Custos-Timestamp`` (Unix
seconds) and ``X-Custos-Signature: sha256=<hex>``, the HMAC-SHA256 under
``sim_swap_webhook_secret`` of ``<timestamp>.`` followed by the raw body. A
timestamp more than ``sim_swap_max_skew_s`` away from now, a bad signature or a
request already received is refused (``signature_invalid``, 401).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from custos.bootstrap import Services
from custos.domain.errors import InvalidInput, NotFound, SignatureInvalid
from custos.domain.events import DomainEvent, EventType
from custos.store.risk_repository import Incident

TIMESTAMP_HEADER: Final = "X-Custos-Timestamp"
SIGNATURE_HEADER: Final = "X-Custos-Signature"
KINDS: Final = frozenset({"sim_swap", "port_out"})
GLOBAL_SCOPE: Final = "*"
MAX_BODY: Final = 8192


@dataclass(frozen=True, slots=True)
class SimSwapSignal:
    subject_id: str
    kind: str
    observed_at: datetime
    provider: str


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes (also used by tests and docs)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def receive_sim_swap(
    svc: Services, *, body: bytes, timestamp: str, signature: str
) -> SimSwapSignal:
    """Check and store one signed SIM-swap signal; records
    ``risk:subject:sim_swap_reported``. Raises SignatureInvalid (no secret
    configured, stale or future timestamp, bad signature, replayed request),
    InvalidInput (malformed body) or NotFound (unknown subject)."""
    secret = svc.settings.sim_swap_webhook_secret
    if secret is None:
        raise SignatureInvalid("the SIM-swap webhook is not configured")
    now = svc.clock.now()
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} must be Unix seconds") from None
    if abs(now - sent_at) > timedelta(seconds=svc.settings.sim_swap_max_skew_s):
        raise SignatureInvalid("the request timestamp is outside the accepted window")
    expected = sign(secret.get_secret_value().encode("utf-8"), timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureInvalid("the request signature does not match")
    signal = _parse(body, now)
    with svc.uow() as uow:
        if uow.subjects.get(signal.subject_id) is None:
            raise NotFound(f"no subject '{signal.subject_id}'")
        fresh = uow.risk.add_sim_swap(
            subject_id=signal.subject_id,
            kind=signal.kind,
            provider=signal.provider,
            observed_at=signal.observed_at,
            received_at=now,
            request_digest=hashlib.sha256(signature.strip().encode()).hexdigest(),
        )
        if not fresh:
            raise SignatureInvalid("this signed request was already received (replay)")
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.SIM_SWAP_RECEIVED,
                    occurred_at=now,
                    actor=f"carrier:{signal.provider}",
                    subject_id=signal.subject_id,
                    case_id=None,
                    reason="SMS recovery blocked while the signal is recent (R-44)",
                    data={
                        "kind": signal.kind,
                        "observed_at": signal.observed_at.isoformat(),
                        "block_days": svc.settings.sim_swap_block_days,
                    },
                )
            ]
        )
        uow.commit()
    return signal


def _parse(body: bytes, now: datetime) -> SimSwapSignal:
    if len(body) > MAX_BODY:
        raise InvalidInput("the signal body is too large")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInput("the signal body is not JSON") from None
    if not isinstance(data, dict) or set(data) - {"subject", "kind", "observed_at", "provider"}:
        raise InvalidInput("expected {subject, kind, observed_at?, provider?}")
    subject, kind = data.get("subject"), data.get("kind")
    provider = data.get("provider", "carrier")
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise InvalidInput("'subject' must be a subject id")
    if kind not in KINDS:
        raise InvalidInput(f"'kind' must be one of {sorted(KINDS)}")
    if not isinstance(provider, str) or not 0 < len(provider) <= 100:
        raise InvalidInput("'provider' must be a short name")
    observed = now
    if "observed_at" in data:
        try:
            observed = datetime.fromisoformat(str(data["observed_at"]))
        except ValueError:
            raise InvalidInput("'observed_at' must be ISO-8601") from None
        if observed.tzinfo is None:
            raise InvalidInput("'observed_at' needs a time zone")
        observed = min(observed, now)  # a clock ahead of ours never extends the block
    return SimSwapSignal(subject, str(kind), observed, provider)


def start_incident(svc: Services, *, group: str | None, by: str, reason: str) -> Incident:
    """Declare an incident for everyone (``group`` None) or one subject group:
    every recovery opened meanwhile gets the ``incident_in_progress`` signal.
    Raises InvalidInput when one is already running for that scope."""
    scope = group or GLOBAL_SCOPE
    now = svc.clock.now()
    with svc.uow() as uow:
        if not uow.risk.start_incident(scope, by=by, reason=reason, now=now):
            raise InvalidInput(f"an incident is already running for '{scope}'")
        uow.ledger.append([_incident_event(EventType.INCIDENT_STARTED, scope, by, reason, now)])
        uow.commit()
    return Incident(scope, now, by, reason)


def stop_incident(svc: Services, *, group: str | None, by: str) -> Incident:
    """End the incident of ``group`` (None: the global one). Raises NotFound."""
    scope = group or GLOBAL_SCOPE
    now = svc.clock.now()
    with svc.uow() as uow:
        ended = uow.risk.stop_incident(scope)
        if ended is None:
            raise NotFound(f"no incident is running for '{scope}'")
        uow.ledger.append([_incident_event(EventType.INCIDENT_STOPPED, scope, by, "", now)])
        uow.commit()
    return ended


def incidents(svc: Services) -> list[Incident]:
    with svc.uow() as uow:
        return uow.risk.incidents()


def _incident_event(
    kind: EventType, scope: str, by: str, reason: str, now: datetime
) -> DomainEvent:
    return DomainEvent(
        type=kind,
        occurred_at=now,
        actor=by,
        subject_id=None,
        case_id=None,
        reason=reason,
        data={"scope": scope},
    )
