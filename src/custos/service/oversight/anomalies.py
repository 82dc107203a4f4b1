"""Operator anomaly detection run against the ledger (docs/oversight.md).

:func:`actions_from_ledger` turns the ledger's case entries (opened, approved,
denied, executed, proofs) into the pure detection's input
(``custos.oversight.anomalies``). :func:`raise_alerts` stores every new alert
(deduplicated by fingerprint, and skipped when every entry it cites is
already cited by an alert of the same operator and signal), writes
``oversight:anomaly:raised`` in the same transaction and, in it too, queues
the alert mail to the security address and the signed security webhook in the
notice outbox (R-22: the worker's sweep delivers both once committed, at least
once, the webhook retried while its receiver is down). :class:`AnomalyPass`
is the worker's cheap scheduled run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from custos.domain.events import DomainEvent, EventType, Outcome, utc
from custos.domain.identities import Operator, Subject
from custos.notify import messages
from custos.oversight.anomalies import Action, ActionKind, Alert, Baseline, baselines, detect
from custos.service.notices import dispatch as notices
from custos.service.notices.webhooks import queue_security_webhook
from custos.service.ports import Services
from custos.store.oversight_repository import StoredAlert
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.oversight")

#: The actor of the detection's own ledger entries.
DETECTION_ACTOR = "system:oversight"
#: A scheduled run repeats at least this often even when the ledger did not grow
#: (the recent period slides).
RERUN_EVERY = timedelta(hours=1)

_READ = (
    EventType.CASE_OPENED,
    EventType.CASE_APPROVED,
    EventType.CASE_STATE_CHANGED,
    EventType.PROOFING_ATTEMPTED,
)
#: Operator-made state changes that count as an action, by the state entered.
_STATE_KINDS = {
    "denied": ActionKind.DENIED,
    "executing": ActionKind.EXECUTED,
    "credential_issued": ActionKind.EXECUTED,
}
_OPERATOR_PREFIX = "operator:"
#: The types of an incident campaign case's copies of the campaign's start and
#: approvals (:func:`_campaign_copy`).
_CAMPAIGN_COPIES = (EventType.CASE_OPENED, EventType.CASE_APPROVED)


@dataclass(frozen=True, slots=True)
class Oversight:
    """What the report shows: every operator's baseline and the open alerts."""

    now: datetime
    baselines: list[Baseline]
    alerts: list[StoredAlert]


def _kind(entry: dict[str, Any]) -> ActionKind | None:
    kind = str(entry["type"])
    if kind == EventType.CASE_OPENED:
        return ActionKind.OPENED
    if kind == EventType.CASE_APPROVED:
        return ActionKind.APPROVED
    if kind == EventType.PROOFING_ATTEMPTED:
        return ActionKind.PROOF_PASSED if entry["outcome"] == "success" else ActionKind.PROOF_FAILED
    data = entry.get("data") or {}
    return _STATE_KINDS.get(str(data.get("to")))


def _campaign_copy(entry: dict[str, Any]) -> bool:
    """A campaign case's opening and approvals: copies of the campaign's own
    start and two-person approval (one decision each, governed by the
    campaign's rule), not operator actions on that case."""
    return bool((entry.get("data") or {}).get("campaign"))


def actions_from_ledger(uow: UnitOfWork, *, now: datetime, lookback: timedelta) -> list[Action]:
    """Every operator action of the ledger within ``lookback`` before ``now``,
    named by operator name, with its subject's privilege and groups and, for
    decisions, who opened the case and when."""
    names = {f"{_OPERATOR_PREFIX}{op.id}": op.name for op in uow.operators.all()}
    entries = [
        e
        for e in uow.ledger.of_types(
            [str(t) for t in _READ], since=now - lookback, actor_prefix=_OPERATOR_PREFIX
        )
        if str(e.get("actor", "")).startswith(_OPERATOR_PREFIX)
        and e.get("case")
        and not _campaign_copy(e)
    ]
    kinds = [(e, _kind(e)) for e in entries]
    wanted = [(e, k) for e, k in kinds if k is not None]
    openings = {e["case"]: e for e, k in wanted if k == ActionKind.OPENED}
    missing = {e["case"] for e, _ in wanted} - set(openings)
    openings.update(uow.ledger.openings_of(sorted(missing), str(EventType.CASE_OPENED)))
    subjects: dict[str, Subject] = uow.subjects.get_many(
        {str(e["subject"]) for e, _ in wanted if e.get("subject")}
    )
    actions: list[Action] = []
    for entry, kind in wanted:
        assert kind is not None
        opened = openings.get(entry["case"])
        subject = subjects.get(str(entry.get("subject")))
        decision = kind in (ActionKind.APPROVED, ActionKind.DENIED)
        actions.append(
            Action(
                seq=int(entry["seq"]),
                event_id=str(entry["id"]),
                at=entry["occurred_at"],
                operator=names.get(entry["actor"], entry["actor"]),
                kind=kind,
                case_id=str(entry["case"]),
                subject_id=str(entry.get("subject") or ""),
                privileged=bool(subject and subject.privileged),
                groups=subject.groups if subject else frozenset(),
                requester=names.get(opened["actor"], opened["actor"])
                if decision and opened
                else None,
                opened_at=opened["occurred_at"] if decision and opened else None,
            )
        )
    return actions


def fingerprint(alert: Alert) -> str:
    """The same operator, signal and evidence: the same alert."""
    seqs = ",".join(str(e["seq"]) for e in sorted(alert.entries, key=lambda e: int(str(e["seq"]))))
    return hashlib.sha256(f"{alert.operator}|{alert.signal}|{seqs}".encode()).hexdigest()


def _stored(alert: Alert, now: datetime) -> StoredAlert:
    return StoredAlert(
        id=f"al_{uuid.uuid4().hex[:20]}",
        fingerprint=fingerprint(alert),
        operator=alert.operator,
        signal=str(alert.signal),
        summary=alert.summary,
        measured=dict(alert.measured),
        entries=[dict(e) for e in alert.entries],
        state="open",
        raised_at=now,
    )


def _is_news(uow: UnitOfWork, alert: Alert) -> bool:
    cited = uow.alerts.evidence_seqs(alert.operator, str(alert.signal))
    return any(int(str(e["seq"])) not in cited for e in alert.entries)


def raise_alerts(svc: Services) -> list[StoredAlert]:
    """Detect over the ledger as it stands; store, record and send every new
    alert. Returns the alerts raised by this run (none twice)."""
    now = svc.clock.now()
    t = svc.policy.document.oversight.anomalies.thresholds()
    raised: list[StoredAlert] = []
    with svc.uow(read_only=True) as uow:
        found = detect(actions_from_ledger(uow, now=now, lookback=t.lookback), now=now, t=t)
    if not found:
        return raised
    with svc.uow() as uow:
        for alert in found:
            if not _is_news(uow, alert):
                continue
            stored = _stored(alert, now)
            if not uow.alerts.add_new(stored):
                continue
            _record(uow, stored)
            _send(svc, uow, stored)
            raised.append(stored)
        uow.commit()
    for stored in raised:
        log.warning("operator_anomaly", operator=stored.operator, signal=stored.signal)
    return raised


def _seqs(alert: StoredAlert) -> list[int]:
    return [int(e["seq"]) for e in alert.entries]


def _record(uow: UnitOfWork, alert: StoredAlert) -> None:
    uow.ledger.append(
        [
            DomainEvent(
                type=EventType.OPERATOR_ANOMALY_RAISED,
                occurred_at=alert.raised_at,
                actor=DETECTION_ACTOR,
                subject_id=None,
                case_id=None,
                outcome=Outcome.SUCCESS,
                reason=alert.summary,
                data={
                    "alert": alert.id,
                    "operator": alert.operator,
                    "signal": alert.signal,
                    "measured": alert.measured,
                    "evidence": alert.entries,
                },
            )
        ]
    )


def _send(svc: Services, uow: UnitOfWork, alert: StoredAlert) -> None:
    """The mail and the signed webhook, both through the outbox in the alert's
    transaction; neither carries anything but the alert's own fields."""
    address = svc.settings.security_address
    if address is None:
        log.warning("security_address_unset", alert="operator_anomaly")
    else:
        mail = messages.operator_anomaly(
            to=address,
            alert_id=alert.id,
            operator=alert.operator,
            signal=alert.signal,
            summary=alert.summary,
            at=alert.raised_at,
            evidence=_seqs(alert),
        )
        notices.queue(svc, uow, [mail], subject_id=None)
    queue_security_webhook(svc, uow, kind="operator_anomaly", payload=webhook_payload(alert))


def webhook_payload(alert: StoredAlert) -> dict[str, Any]:
    return {
        "type": str(EventType.OPERATOR_ANOMALY_RAISED),
        "time": utc(alert.raised_at),
        "alert": alert.id,
        "operator": alert.operator,
        "signal": alert.signal,
        "summary": alert.summary,
        "measured": alert.measured,
        "evidence": alert.entries,
    }


def report(svc: Services, *, operator: str | None = None) -> Oversight:
    """Baselines (of ``operator`` or everyone) and the open alerts."""
    now = svc.clock.now()
    t = svc.policy.document.oversight.anomalies.thresholds()
    with svc.uow(read_only=True) as uow:
        actions = actions_from_ledger(uow, now=now, lookback=t.lookback)
        open_alerts = uow.alerts.open_alerts(operator)
    found = baselines(actions, now=now, t=t)
    if operator is not None:
        found = [b for b in found if b.operator == operator]
    return Oversight(now=now, baselines=found, alerts=open_alerts)


def open_alerts(svc: Services, *, operator: str | None = None) -> list[StoredAlert]:
    with svc.uow(read_only=True) as uow:
        return uow.alerts.open_alerts(operator)


@dataclass(slots=True)
class AnomalyPass:
    """The worker's scheduled detection: runs when the ledger gained an entry
    the detection reads (an operator's case entry, not an incident campaign's
    copy of its start or approvals) since the last run, or :data:`RERUN_EVERY`
    after it; otherwise one query over the entries appended since."""

    #: The ledger's last seq when the last run started (-1: never run).
    seen_seq: int = -1
    last_run: datetime | None = None
    raised: list[str] = field(default_factory=list)

    def run_if_due(self, svc: Services) -> int:
        now = svc.clock.now()
        with svc.uow(read_only=True) as uow:
            top, news = uow.alerts.ledger_news(
                self.seen_seq,
                types=[str(t) for t in _READ],
                actor_prefix=_OPERATOR_PREFIX,
                campaign_copies=[str(t) for t in _CAMPAIGN_COPIES],
            )
        fresh = self.last_run is not None and now - self.last_run < RERUN_EVERY
        if self.seen_seq >= 0 and not news and fresh:
            self.seen_seq = top
            return 0
        new = raise_alerts(svc)
        # Entries after ``top`` (the run's own alerts, whatever committed
        # meanwhile) are looked at by the next pass.
        self.seen_seq = top
        self.last_run = now
        self.raised += [a.id for a in new]
        return len(new)


def describe(alerts: Sequence[StoredAlert]) -> list[dict[str, Any]]:
    """The alerts as the CLI's --json and the API show them."""
    return [
        {
            "id": a.id,
            "operator": a.operator,
            "signal": a.signal,
            "summary": a.summary,
            "measured": a.measured,
            "evidence": a.entries,
            "state": a.state,
            "raised_at": utc(a.raised_at),
        }
        for a in alerts
    ]


def alerts_for_reader(
    svc: Services, reader: Operator, *, operator: str | None = None
) -> list[StoredAlert]:
    """The open alerts (of ``operator``, or all) for an admin or auditor; any
    other role is refused (``not_authorized``, recorded as a refusal)."""
    from custos.domain.errors import NotAuthorized
    from custos.ledger.proofs import LEDGER_READERS
    from custos.service.oversight.refusals import attempt

    with attempt(svc, actor=reader.actor, action="list_oversight_alerts"):
        if not reader.roles & LEDGER_READERS:
            raise NotAuthorized("only the admin and auditor roles read oversight alerts")
    return open_alerts(svc, operator=operator)
