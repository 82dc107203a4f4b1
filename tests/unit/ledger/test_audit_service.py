"""``custos audit verify`` as a service (``custos.ledger.audit``) on a real
SQLite store: the outcome is recorded in the ledger, a break raises the
``audit:ledger:tamper_detected`` event, an error log and a signed security
webhook, and :func:`latest_verification` reads the newest recorded outcome
back (R-38: tampering is detected and alerted). The webhook's HTTP delivery
(``notify.webhook.post_signed``) has tests of its own; here it is replaced by
a recorder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select, update
from structlog.testing import capture_logs

from conftest import World, make_world
from custos.domain.events import DomainEvent, EventType
from custos.ledger import audit
from custos.ledger import verify as verifying
from custos.ledger.audit import (
    LISTED,
    audit_ledger,
    latest_verification,
    send_security_alert,
    verify,
)
from custos.ledger.heads import key_ring, sign_tree_head
from custos.store.ledger_repository import LedgerRepository
from custos.store.tables import ledger

URL = "https://siem.example.org/hook"
SECRET = "webhook-secret-1"
TIME = "2026-11-25T09:00:00.000000Z"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path)
    yield w
    w.svc.engine.dispose()


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes, dict[str, Any]]]:
    """Every webhook the audit would POST (delivered: True)."""
    calls: list[tuple[str, bytes, dict[str, Any]]] = []

    def post(url: str, secret: bytes, payload: dict[str, Any]) -> bool:
        calls.append((url, secret, payload))
        return True

    monkeypatch.setattr(audit, "post_signed", post)
    return calls


def _settings(world: World, **changes: Any) -> None:
    world.svc.settings = world.svc.settings.model_copy(update=changes)


def _fill(world: World, count: int) -> None:
    with world.svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.NOTIFICATION_SENT,
                    occurred_at=world.clock.now(),
                    actor="test:filler",
                    subject_id=f"s{n}",
                    case_id=None,
                    data={"n": n},
                )
                for n in range(count)
            ]
        )
        uow.commit()


def _signed(world: World, count: int) -> None:
    """``count`` entries under a head signed with a fresh ledger key."""
    _fill(world, count)
    key_ring(world.svc).ensure(world.clock.now())
    sign_tree_head(world.svc)


def _tamper(world: World, *indexes: int) -> None:
    with world.svc.engine.begin() as conn:
        for index in indexes:
            conn.execute(
                update(ledger)
                .where(ledger.c.leaf_index == index)
                .values(canonical=ledger.c.canonical + " ")
            )


def _entries(world: World, *types: EventType) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical)
            .where(ledger.c.type.in_([str(t) for t in types]))
            .order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def test_an_intact_ledger_is_recorded_as_verified_and_alerts_nobody(
    world: World, posted: list[Any]
) -> None:
    """R-38: the ``audit:ledger:verified`` entry names the actor and carries
    the figures of the check; no webhook, no error log; latest_verification
    reads it back."""
    _settings(world, security_webhook_url=URL, security_webhook_secret=SecretStr(SECRET))
    _signed(world, 5)
    assert latest_verification(world.svc) is None
    with capture_logs() as logs:
        report = audit_ledger(world.svc, actor="cli:tester", workers=1)
    assert report.ok and report.entries == 5 and report.heads_checked == 1
    summary = {
        "entries": 5,
        "root_hash": report.root_hash,
        "heads_checked": 1,
        "witnessed_checked": 0,
        "problem_count": 0,
        "problems": [],
    }
    [entry] = _entries(world, EventType.LEDGER_VERIFIED, EventType.LEDGER_TAMPER_DETECTED)
    assert {k: entry[k] for k in ("type", "time", "actor", "subject", "case", "outcome")} == {
        "type": "audit:ledger:verified",
        "time": TIME,
        "actor": "cli:tester",
        "subject": None,
        "case": None,
        "outcome": "success",
    }
    assert entry["reason"] == "" and entry["data"] == summary
    assert posted == [] and logs == []
    assert latest_verification(world.svc) == {
        "ok": True,
        "time": TIME,
        "actor": "cli:tester",
        **summary,
    }


def test_a_break_is_recorded_logged_and_sent_to_the_security_webhook(
    world: World, posted: list[tuple[str, bytes, dict[str, Any]]]
) -> None:
    """R-38: a changed entry gives ``audit:ledger:tamper_detected`` (outcome
    failure, the problem count as reason), the ``ledger_tamper_detected``
    error log and one webhook signed with the configured secret, whose
    payload is the entry's type, time and figures."""
    _settings(world, security_webhook_url=URL, security_webhook_secret=SecretStr(SECRET))
    _signed(world, 6)
    _tamper(world, 2)
    with capture_logs() as logs:
        report = audit_ledger(world.svc, workers=1)
    kinds = [p.kind for p in report.problems]
    assert "changed" in kinds and "head_mismatch" in kinds
    count = len(report.problems)
    [entry] = _entries(world, EventType.LEDGER_TAMPER_DETECTED)
    assert (entry["actor"], entry["outcome"]) == ("cli:local", "failure")
    assert entry["reason"] == f"{count} integrity problem(s) found"
    summary = {
        "entries": 6,
        "root_hash": report.root_hash,
        "heads_checked": 1,
        "witnessed_checked": 0,
        "problem_count": count,
        "problems": [p.to_json() for p in report.problems],
    }
    assert entry["data"] == summary
    assert posted == [
        (URL, SECRET.encode(), {"type": "audit:ledger:tamper_detected", "time": TIME, **summary})
    ]
    assert logs == [{"event": "ledger_tamper_detected", "problems": count, "log_level": "error"}]
    latest = latest_verification(world.svc)
    assert latest is not None and latest["ok"] is False and latest["problem_count"] == count


def test_an_alert_lists_the_first_twenty_problems_and_counts_them_all(
    world: World, posted: list[tuple[str, bytes, dict[str, Any]]]
) -> None:
    _settings(world, security_webhook_url=URL, security_webhook_secret=SecretStr(SECRET))
    _signed(world, 30)
    _tamper(world, *range(25))
    report = audit_ledger(world.svc, workers=1)
    assert LISTED == 20 and len(report.problems) > LISTED
    [entry] = _entries(world, EventType.LEDGER_TAMPER_DETECTED)
    listed = [p.to_json() for p in report.problems[:20]]
    assert entry["data"]["problem_count"] == len(report.problems)
    assert entry["data"]["problems"] == listed
    [(_, _, payload)] = posted
    assert payload["problems"] == listed and payload["problem_count"] == len(report.problems)


def test_a_store_that_cannot_record_the_outcome_still_alerts(
    world: World, posted: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tamper alert must not depend on the (possibly wrecked) store taking
    the audit entry: the failed append is logged, the webhook still goes."""
    _settings(world, security_webhook_url=URL, security_webhook_secret=SecretStr(SECRET))
    _signed(world, 4)
    _tamper(world, 1)

    def refuse(self: LedgerRepository, events: Any) -> list[str]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(LedgerRepository, "append", refuse)
    with capture_logs() as logs:
        report = audit_ledger(world.svc, workers=1)
    assert not report.ok
    assert [e["event"] for e in logs] == ["ledger_audit_event_failed", "ledger_tamper_detected"]
    assert logs[0]["log_level"] == "error" and logs[0]["exc_info"] is True
    assert len(posted) == 1
    assert _entries(world, EventType.LEDGER_TAMPER_DETECTED) == []


def test_verify_reads_the_witness_file_and_names_its_unreadable_lines(world: World) -> None:
    """R-38: heads in the witness file are checked against the ledger; a line
    that is no head is a ``witness_unreadable`` problem naming file and line.
    verify records nothing."""
    witness = Path(world.svc.settings.data_dir) / "witness.jsonl"
    _settings(world, ledger_witness_file=witness)
    _signed(world, 3)  # publishes the head to the witness file
    report = verify(world.svc)
    assert report.ok and (report.heads_checked, report.witnessed_checked) == (1, 1)
    with witness.open("a", encoding="utf-8") as out:
        out.write("not a head\n")
    report = verify(world.svc)
    assert [(p.kind, p.message) for p in report.problems] == [
        ("witness_unreadable", f"{witness}:2: not a tree head")
    ]
    assert _entries(world, EventType.LEDGER_VERIFIED, EventType.LEDGER_TAMPER_DETECTED) == []


def test_verify_passes_progress_total_and_workers_to_the_scan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress callback sees the ledger's size (its highest leaf index
    + 1) as the total even on the exact pass a tampered ledger falls back to,
    here with a row removed; verify scans in one process unless told
    otherwise, audit_ledger with one per available CPU; audit_ledger hands
    its progress callback on."""
    _signed(world, 7)
    with world.svc.engine.begin() as conn:  # 6 rows left of a ledger of 7
        conn.execute(delete(ledger).where(ledger.c.leaf_index == 3))
    real = verifying.verify_ledger
    asked: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs["workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(audit, "verify_ledger", spy)
    monkeypatch.setattr(audit, "default_workers", lambda: 5)
    seen: list[tuple[int, int]] = []
    verify(world.svc)
    report = verify(world.svc, progress=lambda done, total: seen.append((done, total)), workers=3)
    assert ("removed", 3) in [(p.kind, p.index) for p in report.problems]
    assert seen == [(6, 7)]
    audit_ledger(world.svc)
    seen.clear()
    audit_ledger(world.svc, workers=2, progress=lambda *done: seen.append(done))
    assert asked == [1, 3, 5, 2]
    assert seen == [(7, 8)]  # the first audit added its entry


def test_the_security_alert_needs_a_url_and_a_secret(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No URL: nothing is sent. A URL without a secret: nothing is sent either
    (an unsigned alert could be forged), and the gap is logged. Both: the
    answer is whether the webhook took it."""
    answers = iter([True, False])
    calls: list[tuple[str, bytes, dict[str, Any]]] = []

    def post(url: str, secret: bytes, payload: dict[str, Any]) -> bool:
        calls.append((url, secret, payload))
        return next(answers)

    monkeypatch.setattr(audit, "post_signed", post)
    assert send_security_alert(world.svc, {"a": 1}) is False
    _settings(world, security_webhook_url=URL)
    with capture_logs() as logs:
        assert send_security_alert(world.svc, {"a": 1}) is False
    assert logs == [
        {
            "event": "security_webhook_unsigned",
            "problem": "security_webhook_secret is not set",
            "log_level": "error",
        }
    ]
    assert calls == []
    _settings(world, security_webhook_secret=SecretStr("sécret"))
    assert send_security_alert(world.svc, {"a": 1}) is True
    assert send_security_alert(world.svc, {"b": 2}) is False
    assert calls == [(URL, "sécret".encode(), {"a": 1}), (URL, "sécret".encode(), {"b": 2})]


def test_latest_verification_is_the_newest_recorded_outcome(world: World) -> None:
    """Only the two audit outcomes count, the newest first, whatever was
    appended after it."""
    _signed(world, 4)
    audit_ledger(world.svc, actor="cli:first", workers=1)
    _fill(world, 2)  # the tree grew past the head: still intact
    audit_ledger(world.svc, actor="cli:second", workers=1)
    _fill(world, 1)
    latest = latest_verification(world.svc)
    assert latest is not None and latest["ok"] is True and latest["actor"] == "cli:second"
    assert latest["entries"] == 7
    _tamper(world, 0)
    audit_ledger(world.svc, actor="cli:third", workers=1)
    _fill(world, 1)
    latest = latest_verification(world.svc)
    assert latest is not None and latest["ok"] is False and latest["actor"] == "cli:third"
