"""The worker's sweep of the SET outbox, the only place SETs are pushed from:
every pass it leases the due SETs of enabled streams, signs each with the key
active now, pushes it (``custos.signals.push``) outside any transaction, and
records the outcomes in one more: delivered and failed SETs leave the outbox
with a ledger event (``ssf:set:delivered`` / ``ssf:set:failed``, the latter
with the receiver's RFC 8935 ``err``), SETs worth another try wait with
exponential backoff (``[ssf] backoff_base_s`` doubling up to
``backoff_max_s``, or the receiver's ``Retry-After`` when longer) until
``max_attempts``.

A stream's SETs go in the order written: once one waits for a retry, the
stream's later SETs wait with it (without an attempt counted), so a receiver
that is down is asked once per retry, not once per SET.

At least once: a sweep that dies after pushing but before recording pushes
those SETs again once its lease ran out (the same ``jti``: receivers drop
duplicates). Paused streams keep their SETs until enabled; SETs of a stream
deleted or disabled meanwhile are dropped with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import httpx
import structlog

from custos.credentials import seal_contexts
from custos.credentials.sealed import SealError
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR
from custos.service.ports import Services
from custos.service.shared_signals.keys import key_ring
from custos.service.shared_signals.outbox import claims_of
from custos.signals.keys import NoSigningKey, SigningKey, SsfKeyError
from custos.signals.push import PushResult, Verdict, endpoint_problem, make_client, push
from custos.signals.tokens import sign_set
from custos.store.ssf_repository import Retry, SetRow

log = structlog.get_logger("custos.ssf")

#: SETs taken per sweep.
LIMIT: Final = 100
#: How long a sweep holds the SETs it took: also how late a SET is when the
#: sweep that took it died.
LEASE: Final = timedelta(minutes=5)


@dataclass
class _Outcomes:
    events: list[DomainEvent] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)


def deliver_due(svc: Services, *, limit: int = LIMIT) -> int:
    """Push up to ``limit`` due SETs; returns how many were handled. Never raises
    for a delivery: every outcome is recorded (or logged when recording fails)."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        if not uow.ssf_outbox.any_due(now=now):
            return 0
    until = now + LEASE
    with svc.uow() as uow:
        rows = uow.ssf_outbox.claim_due(now=now, until=until, limit=limit)
        streams = uow.ssf_streams.get_many({row.stream_id for row in rows})
        sealed = uow.ssf_streams.sealed_authorizations(streams)
        uow.commit()
    if not rows:
        return 0
    by_stream: dict[str, list[SetRow]] = defaultdict(list)
    for row in rows:
        by_stream[row.stream_id].append(row)
    key, no_key = _signing_key(svc)
    outcomes = _Outcomes()
    with make_client(
        timeout_s=svc.settings.ssf.timeout_s, ca_file=svc.settings.ssf.ca_file
    ) as client:
        for stream_id, stream_rows in by_stream.items():
            stream = streams.get(stream_id)
            if stream is None:  # deleted after the claim: its SETs go with it
                outcomes.done += [row.id for row in stream_rows]
                continue
            authorization = _authorization(svc, stream_id, sealed.get(stream_id))
            blocked: datetime | None = None
            for row in stream_rows:
                if blocked is not None:
                    outcomes.retries.append(Retry(row.id, blocked, row.attempts, None))
                    continue
                if key is None:
                    result = PushResult(Verdict.RETRY, None, no_key)
                else:
                    result = _attempt(svc, client, row, stream.endpoint_url, key, authorization)
                blocked = _settle(svc, row, stream_id, result, outcomes)
    _record(svc, outcomes, until)
    return len(rows)


def _signing_key(svc: Services) -> tuple[SigningKey | None, str]:
    try:
        return key_ring(svc).active(), ""
    except (NoSigningKey, SsfKeyError) as exc:
        log.error("ssf_no_signing_key", error=exc.error_id)
        return None, f"no signing key ({exc.error_id}): run 'custos ssf keys rotate'"


def _authorization(svc: Services, stream_id: str, sealed: bytes | None) -> str | None:
    if sealed is None:
        return None
    try:
        return svc.sealer.unseal(sealed, aad=seal_contexts.stream_authorization(stream_id))
    except SealError:
        # Pushed without it: the receiver refuses, and the admin sees why.
        log.error("ssf_authorization_unreadable", stream=stream_id)
        return None


def _attempt(
    svc: Services,
    client: httpx.Client,
    row: SetRow,
    endpoint_url: str,
    key: SigningKey,
    authorization: str | None,
) -> PushResult:
    problem = endpoint_problem(
        endpoint_url, allow_insecure=svc.settings.ssf.allow_insecure_transport
    )
    if problem is not None:
        return PushResult(Verdict.RETRY, None, f"endpoint not allowed: {problem}")
    try:
        claims = claims_of(svc, row)
    except (SealError, ValueError) as exc:
        return PushResult(
            Verdict.REFUSED, None, f"the queued SET could not be read back ({type(exc).__name__})"
        )
    return push(client, endpoint_url, sign_set(claims, key), authorization=authorization)


def _settle(
    svc: Services, row: SetRow, stream_id: str, result: PushResult, outcomes: _Outcomes
) -> datetime | None:
    """File one result; returns when the stream's next SET may go, or None when
    it may go now."""
    cfg = svc.settings.ssf
    attempts = row.attempts + 1
    if result.verdict == Verdict.RETRY and attempts < cfg.max_attempts:
        now = svc.clock.now()
        delay = min(cfg.backoff_base_s * 2 ** (attempts - 1), cfg.backoff_max_s)
        if result.retry_after_s is not None:
            delay = min(max(delay, result.retry_after_s), cfg.backoff_max_s)
        due = now + timedelta(seconds=delay)
        outcomes.retries.append(Retry(row.id, due, attempts, result.detail))
        log.warning(
            "ssf_set_retry",
            stream=stream_id,
            event_type=_short(row.event_type),
            status=result.status,
            attempt=attempts,
            retry_in_s=delay,
        )
        return due
    delivered = result.verdict == Verdict.DELIVERED
    reason = result.detail
    if result.verdict == Verdict.RETRY:
        reason = f"gave up after {attempts} attempts: {result.detail}"
    outcomes.done.append(row.id)
    outcomes.events.append(
        DomainEvent(
            type=EventType.SSF_SET_DELIVERED if delivered else EventType.SSF_SET_FAILED,
            occurred_at=svc.clock.now(),
            actor=SYSTEM_ACTOR,
            subject_id=row.subject_id,
            case_id=row.case_id,
            outcome=Outcome.SUCCESS if delivered else Outcome.FAILURE,
            reason="" if delivered else reason,
            data={
                "stream": stream_id,
                "event": _short(row.event_type),
                "jti": row.jti,
                "status": result.status,
                "err": result.err,
                "attempts": attempts,
            },
        )
    )
    log.info(
        "ssf_set_delivered" if delivered else "ssf_set_failed",
        stream=stream_id,
        event_type=_short(row.event_type),
        status=result.status,
        err=result.err,
    )
    return None


def _short(event_type: str) -> str:
    """``credential-change`` for the CAEP URI, and so on."""
    return event_type.rsplit("/", 1)[-1]


def _record(svc: Services, outcomes: _Outcomes, leased_until: datetime) -> None:
    """Record the outcomes in one transaction. Never raises: should it fail, the
    SETs come back to a sweep once their lease ran out (and are pushed again)."""
    try:
        with svc.uow() as uow:
            # Outbox rows before the ledger, as every writer of them does: never
            # the ledger's lock first and a row's after.
            uow.ssf_outbox.delete_many(outcomes.done)
            uow.ssf_outbox.reschedule(outcomes.retries, leased_until=leased_until)
            uow.ledger.append(outcomes.events)
            uow.commit()
    except Exception as exc:  # the SETs went (or not) already
        log.error("ssf_outcomes_not_recorded", count=len(outcomes.done), error=type(exc).__name__)
