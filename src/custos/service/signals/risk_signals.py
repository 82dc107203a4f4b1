"""Signals that arrive from outside a request: a carrier's signed SIM-swap or
number-porting webhook (R-44) and incidents declared by an administrator.

Webhook contract (``POST /api/v1/signals/sim-swap``): the body is JSON
``{"subject": ID | "phone": E.164, "kind": "sim_swap"|"port_out", "observed_at":
ISO-8601 (optional), "provider": NAME (optional)}``, naming the subject by id or
by the phone number the carrier swapped (exactly one of the two). A number
reaches every subject that keeps it among their phone contacts, confirmed or
not; a number nobody keeps is accepted and changes nothing (a carrier's feed
covers all its customers, and neither they nor their numbers are stored). The
headers are ``X-Custos-Timestamp`` (Unix
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

from custos.domain.errors import InvalidInput, NotFound, SignatureInvalid
from custos.domain.events import DomainEvent, EventType
from custos.domain.phones import e164
from custos.service.ports import Services
from custos.store.risk_repository import Incident

TIMESTAMP_HEADER: Final = "X-Custos-Timestamp"
SIGNATURE_HEADER: Final = "X-Custos-Signature"
KINDS: Final = frozenset({"sim_swap", "port_out"})
GLOBAL_SCOPE: Final = "*"
MAX_BODY: Final = 8192


@dataclass(frozen=True, slots=True)
class SimSwapSignal:
    """One parsed signal: ``subject_id`` or ``phone`` (E.164), never both."""

    subject_id: str | None
    phone: str | None
    kind: str
    observed_at: datetime
    provider: str


@dataclass(frozen=True, slots=True)
class SimSwapReceived:
    """A signal accepted, and the subjects it was recorded for (none when no
    subject keeps the reported number)."""

    signal: SimSwapSignal
    subject_ids: list[str]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes (also used by tests and docs)."""
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def receive_sim_swap(
    svc: Services, *, body: bytes, timestamp: str, signature: str
) -> SimSwapReceived:
    """Check and store one signed SIM-swap signal, for the subject it names or
    for every subject keeping the number it names; records
    ``risk:subject:sim_swap_reported`` per subject. Raises SignatureInvalid (no
    secret configured, stale or future timestamp, bad signature, replayed
    request), InvalidInput (malformed body) or NotFound (unknown subject id)."""
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
    request_digest = hashlib.sha256(signature.strip().encode()).hexdigest()
    with svc.uow() as uow:
        if signal.subject_id is not None:
            if uow.subjects.get(signal.subject_id) is None:
                raise NotFound(f"no subject '{signal.subject_id}'")
            # One row per request: its digest is the request's own.
            targets = {signal.subject_id: request_digest}
        else:
            assert signal.phone is not None
            # One row per subject keeping the number: each digest also names the
            # subject, so a replay is caught on every row.
            targets = {
                subject_id: hashlib.sha256(f"{signature.strip()}|{subject_id}".encode()).hexdigest()
                for subject_id in uow.contacts.subjects_with_phone(signal.phone)
            }
        events = []
        for subject_id, digest in targets.items():
            fresh = uow.risk.add_sim_swap(
                subject_id=subject_id,
                kind=signal.kind,
                provider=signal.provider,
                observed_at=signal.observed_at,
                received_at=now,
                request_digest=digest,
            )
            if not fresh:
                raise SignatureInvalid("this signed request was already received (replay)")
            events.append(
                DomainEvent(
                    type=EventType.SIM_SWAP_RECEIVED,
                    occurred_at=now,
                    actor=f"carrier:{signal.provider}",
                    subject_id=subject_id,
                    case_id=None,
                    reason="SMS recovery blocked while the signal is recent (R-44)",
                    data={
                        "kind": signal.kind,
                        "observed_at": signal.observed_at.isoformat(),
                        "block_days": svc.settings.sim_swap_block_days,
                        # How the carrier named the subject; the number itself
                        # stays out of the ledger, which is never rewritten.
                        "matched_by": "subject" if signal.subject_id else "phone",
                    },
                )
            )
        uow.ledger.append(events)
        uow.commit()
    return SimSwapReceived(signal, sorted(targets))


def _parse(body: bytes, now: datetime) -> SimSwapSignal:
    if len(body) > MAX_BODY:
        raise InvalidInput("the signal body is too large")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInput("the signal body is not JSON") from None
    fields = {"subject", "phone", "kind", "observed_at", "provider"}
    if not isinstance(data, dict) or set(data) - fields:
        raise InvalidInput("expected {subject or phone, kind, observed_at?, provider?}")
    if ("subject" in data) == ("phone" in data):
        raise InvalidInput("name the subject by exactly one of 'subject' and 'phone'")
    subject, phone, kind = data.get("subject"), None, data.get("kind")
    provider = data.get("provider", "carrier")
    if "phone" in data:
        raw = data["phone"]
        phone = e164(raw) if isinstance(raw, str) and len(raw) <= 40 else None
        if phone is None:
            raise InvalidInput("'phone' must be an international number, like +491701234567")
    elif not isinstance(subject, str) or not subject or len(subject) > 200 or "\x00" in subject:
        raise InvalidInput("'subject' must be a subject id")
    if kind not in KINDS:
        raise InvalidInput(f"'kind' must be one of {sorted(KINDS)}")
    if not isinstance(provider, str) or not 0 < len(provider) <= 100 or "\x00" in provider:
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
    return SimSwapSignal(subject, phone, str(kind), observed, provider)


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
