"""The bulk repository methods the propagation worker records its batches with
agree with their one-item counterparts, on SQLite and PostgreSQL: the same
rows, the same domain values, the same ledger entries (R-38), and the same
refusals (stale case versions, receipts whose lease another worker holds).
Lists longer than 500 ids (the chunk size) come back whole."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from recoveries import self_service_recovery
from sqlalchemy import Table, select

from conftest import World
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import SYSTEM_ACTOR, ContactKind
from custos.ledger.audit import verify
from custos.store.bulk import insert_many
from custos.store.case_repository import ConcurrentUpdate
from custos.store.receipt_repository import Attempt, ReceiptState, as_recorded
from custos.store.tables import (
    cases,
    ledger,
    linked_accounts,
    receipts,
    repudiation_tokens,
    sealed_secrets,
    throttles,
)

#: More than one chunk (500 ids per query) of the bulk reads.
MANY = 620


# -- helpers -------------------------------------------------------------------------
def _recovered(world: World, *names: str) -> list[str]:
    """One redeemed self-service case per subject (executing: a pending receipt,
    a redeemed reset token, a sealed secret)."""
    ids = []
    for name in names:
        world.subject(name)
        ids.append(self_service_recovery(world, name))
    return ids


def _pending(case_id: str, target: str, account_id: str, now: datetime) -> dict[str, object]:
    """A pending receipt row, as ReceiptRepository.create writes it."""
    return {
        "case_id": case_id,
        "target": target,
        "account_id": account_id,
        "required": True,
        "state": str(ReceiptState.PENDING),
        "attempts": 0,
        "max_attempts": 5,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _clone_cases(world: World, template_id: str, count: int) -> list[str]:
    """``count`` copies of a stored case row (one pending receipt each), inserted
    in one statement per table: enough rows to cross the 500-id chunks cheaply."""
    now = world.clock.now()
    with world.svc.uow() as uow:
        row = dict(uow.conn.execute(select(cases).where(cases.c.id == template_id)).one()._mapping)
        ids = [f"clone-{n:04d}-{secrets.token_hex(3)}" for n in range(count)]
        uow.conn.execute(cases.insert(), [{**row, "id": case_id} for case_id in ids])
        uow.conn.execute(
            receipts.insert(),
            [_pending(case_id, "directory", f"acct-{n}", now) for n, case_id in enumerate(ids)],
        )
        uow.commit()
    return ids


def _add_receipts(world: World, case_id: str, count: int) -> None:
    """``count`` more pending receipts on the case (targets need not exist: the
    receipt repository never calls them)."""
    now = world.clock.now()
    with world.svc.uow() as uow:
        uow.conn.execute(
            receipts.insert(),
            [_pending(case_id, f"extra-{n}", f"acct-{n}", now) for n in range(count)],
        )
        uow.commit()


def _receipt_rows(world: World, ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    query = select(receipts).order_by(receipts.c.id)
    if ids is not None:
        query = query.where(receipts.c.id.in_(ids))
    with world.svc.uow(read_only=True) as uow:
        return {r.id: dict(r._mapping) for r in uow.conn.execute(query)}


def _rows(world: World, table: Table, key: str, values: list[Any]) -> dict[Any, dict[str, Any]]:
    with world.svc.uow(read_only=True) as uow:
        found = uow.conn.execute(select(table).where(table.c[key].in_(values)))
        return {r._mapping[key]: dict(r._mapping) for r in found}


# -- cases ---------------------------------------------------------------------------
def test_get_many_returns_what_get_without_children_returns_and_omits_unknown_ids(
    world: World,
) -> None:
    a, b = _recovered(world, "ada", "bert")
    with world.svc.uow(read_only=True) as uow:
        many = uow.cases.get_many([b, "no-such-case", a, b])
        locked_free = {cid: uow.cases.get(cid, children=False) for cid in (a, b)}
    with world.svc.uow() as uow:
        locked = uow.cases.get_many([a, b], for_update=True)
    assert list(many) == sorted([a, b])  # id order: every worker locks rows alike
    assert many == locked_free
    assert locked == locked_free
    assert all(case.approvals == [] and case.proofs == [] for case in many.values())
    assert many[a].subject_id == "ada" and many[b].subject_id == "bert"


def test_get_many_and_for_cases_return_every_case_beyond_one_chunk(world: World) -> None:
    (template,) = _recovered(world, "chunky")
    clones = _clone_cases(world, template, MANY)
    asked = [*clones, template, "no-such-case"]
    with world.svc.uow(read_only=True) as uow:
        many = uow.cases.get_many(asked)
        by_case = uow.receipts.for_cases(asked)
        singles = {cid: uow.receipts.for_case(cid) for cid in asked}
        sample = {cid: uow.cases.get(cid, children=False) for cid in clones[::97]}
    assert len(many) == MANY + 1 and "no-such-case" not in many
    assert set(many) == set(clones) | {template}
    assert all(many[cid] == case for cid, case in sample.items())
    assert by_case == singles
    assert by_case["no-such-case"] == []
    assert all(len(by_case[cid]) == 1 for cid in clones)


def test_save_many_writes_every_row_and_appends_the_events_in_order(world: World) -> None:
    """One UPDATE for the rows (versions bumped) and one ledger append whose
    entries follow the order of the cases given; the ledger still verifies (R-38)."""
    a, b = _recovered(world, "cleo", "dirk")
    now = world.clock.now()
    with world.svc.uow() as uow:
        versions = {cid: case.version for cid, case in uow.cases.get_many([a, b]).items()}
    with world.svc.uow() as uow:
        loaded = uow.cases.get_many([a, b], for_update=True)
        for cid in (b, a):  # b first on purpose: the order given, not the id order
            case = loaded[cid]
            case.outcome_reason = f"bulk-{cid}"
            for step in ("one", "two"):
                case.emit(
                    EventType.CHECK_PASSED,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    reason=f"{step}-{cid}",
                    data={"check": step},
                )
        before = uow.ledger.count()
        uow.cases.save_many([loaded[b], loaded[a]])
        assert all(case.pending_events == [] for case in loaded.values())
        uow.commit()
    with world.svc.uow(read_only=True) as uow:
        stored = {cid: uow.cases.get(cid) for cid in (a, b)}
        tail = [
            (r.case_id, r.type)
            for r in uow.conn.execute(
                select(ledger.c.case_id, ledger.c.type)
                .where(ledger.c.leaf_index >= before)
                .order_by(ledger.c.seq)
            )
        ]
        per_case = {cid: [str(e["reason"]) for e in uow.ledger.for_case(cid)] for cid in (a, b)}
    for cid in (a, b):
        assert stored[cid].version == versions[cid] + 1
        assert stored[cid].outcome_reason == f"bulk-{cid}"
        assert per_case[cid][-2:] == [f"one-{cid}", f"two-{cid}"]
    assert tail == [(b, str(EventType.CHECK_PASSED))] * 2 + [(a, str(EventType.CHECK_PASSED))] * 2
    assert verify(world.svc).ok


def test_save_many_with_one_stale_case_raises_and_the_rollback_leaves_nothing(
    world: World,
) -> None:
    a, b = _recovered(world, "emil", "fay")
    with world.svc.uow(read_only=True) as uow:
        stale = uow.cases.get_many([a, b])
    with world.svc.uow() as uow:  # another worker moves case a on meanwhile
        fresh = uow.cases.get(a, children=False)
        fresh.outcome_reason = "moved on elsewhere"
        uow.cases.save(fresh)
        uow.commit()
    with world.svc.uow(read_only=True) as uow:
        rows_before = _rows(world, cases, "id", [a, b])
        ledger_before = uow.ledger.count()
    now = world.clock.now()
    with world.svc.uow() as uow:
        for case in stale.values():
            case.outcome_reason = "stale write"
            case.emit(EventType.CHECK_PASSED, at=now, actor=SYSTEM_ACTOR, reason="stale")
        with pytest.raises(ConcurrentUpdate):
            uow.cases.save_many([stale[a], stale[b]])
        # no commit: leaving the unit of work rolls back
    assert _rows(world, cases, "id", [a, b]) == rows_before
    with world.svc.uow(read_only=True) as uow:
        assert uow.ledger.count() == ledger_before
        assert "stale" not in [e["reason"] for e in uow.ledger.for_case(b)]
        assert uow.cases.get(a).outcome_reason == "moved on elsewhere"
    assert verify(world.svc).ok


# -- receipts ------------------------------------------------------------------------
def test_record_many_writes_only_receipts_whose_lease_the_owner_holds(world: World) -> None:
    (case_id,) = _recovered(world, "gus")
    _add_receipts(world, case_id, 3)
    now = world.clock.now()
    lease = timedelta(seconds=60)
    with world.svc.uow() as uow:
        mine = uow.receipts.claim_due(owner="A", now=now, lease=lease, limit=2, skip_locked=False)
        theirs = uow.receipts.claim_due(owner="B", now=now, lease=lease, limit=2, skip_locked=False)
        uow.commit()
    assert len(mine) == 2 and len(theirs) == 2
    before = _receipt_rows(world)
    assert {before[r.id]["lease_owner"] for r in mine} == {"A"}

    # B records A's receipts: nothing is written, nothing is returned.
    with world.svc.uow() as uow:
        kept = uow.receipts.record_many(
            "B",
            [Attempt(r.id, ReceiptState.FAILED, answer="late", error="X") for r in mine],
            now=now,
        )
        uow.commit()
    assert kept == set()
    assert _receipt_rows(world) == before

    # A records one of its own and one of B's: only its own is written.
    later = now + timedelta(seconds=5)
    with world.svc.uow() as uow:
        kept = uow.receipts.record_many(
            "A",
            [
                Attempt(mine[0].id, ReceiptState.SUCCEEDED, answer="ok"),
                Attempt(theirs[0].id, ReceiptState.SUCCEEDED, answer="stolen"),
            ],
            now=later,
        )
        uow.commit()
    assert kept == {mine[0].id}
    after = _receipt_rows(world)
    assert after[theirs[0].id] == before[theirs[0].id]
    assert after[mine[0].id]["state"] == "succeeded"
    assert after[mine[0].id]["lease_owner"] is None
    assert after[mine[1].id] == before[mine[1].id]


def test_record_many_writes_what_record_writes(world: World) -> None:
    """Each result shape (succeeded; retryable with a next attempt; failed) gives
    the same row from ``record_many`` as from ``record``."""
    (case_id,) = _recovered(world, "hugo")
    _add_receipts(world, case_id, 5)
    now = world.clock.now()
    with world.svc.uow() as uow:
        claimed = uow.receipts.claim_due(
            owner="A", now=now, lease=timedelta(seconds=60), limit=6, skip_locked=False
        )
        uow.commit()
    assert len(claimed) == 6
    later = now + timedelta(seconds=3)
    retry_at = later + timedelta(seconds=30)
    # (state, answer, error, next attempt): one of each shape of SET clause
    shapes: list[tuple[ReceiptState, str, str | None, datetime | None]] = [
        (ReceiptState.SUCCEEDED, "password replaced", None, None),
        (ReceiptState.RETRYABLE_FAILURE, "unreachable", "ConnectionFailed", retry_at),
        (ReceiptState.FAILED, "policy", "PasswordPolicy", None),
    ]
    singles, bulk = claimed[:3], claimed[3:]
    with world.svc.uow() as uow:
        for receipt, (state, answer, error, next_at) in zip(singles, shapes, strict=True):
            assert uow.receipts.record(
                receipt.id,
                owner="A",
                state=state,
                now=later,
                answer=answer,
                error=error,
                next_attempt_at=next_at,
            )
        kept = uow.receipts.record_many(
            "A",
            [
                Attempt(receipt.id, state, answer=answer, error=error, next_attempt_at=next_at)
                for receipt, (state, answer, error, next_at) in zip(bulk, shapes, strict=True)
            ],
            now=later,
        )
        uow.commit()
    assert kept == {r.id for r in bulk}
    rows = _receipt_rows(world)
    ignored = {"id", "target", "account_id"}
    for one, many in zip(singles, bulk, strict=True):
        single_row = {k: v for k, v in rows[one.id].items() if k not in ignored}
        bulk_row = {k: v for k, v in rows[many.id].items() if k not in ignored}
        assert bulk_row == single_row
        assert bulk_row["attempts"] == 1 and bulk_row["lease_owner"] is None


def test_for_cases_after_answers_what_for_cases_reads_after_record_many(world: World) -> None:
    """The worker's read of a batch's cases right after recording it (R-38:
    each case concludes on its receipts as stored): a case whose receipts all
    were in the batch is answered from memory, one with a receipt the batch
    did not hold (another batch's, or another worker's lease) is read; both
    agree with ``for_cases`` in the same transaction, field by field."""
    whole, partial, contested = _recovered(world, "pia", "quin", "rolf")
    _add_receipts(world, whole, 2)
    _add_receipts(world, partial, 2)
    _add_receipts(world, contested, 1)
    now = world.clock.now()
    lease = timedelta(seconds=60)
    with world.svc.uow() as uow:
        claimed = uow.receipts.claim_due(
            owner="A", now=now, lease=lease, limit=50, skip_locked=False
        )
        uow.commit()
    by_id = {r.id: r for r in claimed}
    theirs = max(r.id for r in claimed if r.case_id == contested)
    left_out = max(r.id for r in claimed if r.case_id == partial)  # recorded in no batch
    with world.svc.uow() as uow:  # another worker took one lease over
        uow.conn.execute(receipts.update().where(receipts.c.id == theirs).values(lease_owner="B"))
        uow.commit()
    later = now + timedelta(seconds=3)
    retry_at = later + timedelta(seconds=40)
    attempts = []
    position = {
        r.id: n
        for c in (whole, partial, contested)
        for n, r in enumerate(sorted((r for r in claimed if r.case_id == c), key=lambda r: r.id))
    }
    for receipt in (r for r in claimed if r.id != left_out):
        n = position[receipt.id]
        if n % 3 == 0:
            attempts.append(Attempt(receipt.id, ReceiptState.SUCCEEDED, answer="ok"))
        elif n % 3 == 1:
            attempts.append(
                Attempt(
                    receipt.id,
                    ReceiptState.RETRYABLE_FAILURE,
                    answer="busy",
                    error="Busy",
                    next_attempt_at=retry_at,
                )
            )
        else:
            attempts.append(Attempt(receipt.id, ReceiptState.FAILED, answer="no", error="No"))
    asked = [whole, partial, contested, "no-such-case"]
    with world.svc.uow() as uow:
        kept = uow.receipts.record_many("A", attempts, now=later)
        recorded = [as_recorded(by_id[a.receipt_id], a, now=later) for a in attempts]
        after = uow.receipts.for_cases_after(asked, [r for r in recorded if r.id in kept])
        stored = uow.receipts.for_cases(asked)
        uow.commit()
    assert theirs not in kept and left_out not in kept
    assert after == stored
    for case_id in asked:  # every field, the times to the microsecond
        for mine, read in zip(after[case_id], stored[case_id], strict=True):
            assert [getattr(mine, f) for f in mine.__slots__] == [
                getattr(read, f) for f in read.__slots__
            ]
    assert [len(after[c]) for c in asked] == [3, 3, 2, 0]
    assert {r.state for r in after[whole]} == {
        ReceiptState.SUCCEEDED,
        ReceiptState.RETRYABLE_FAILURE,
        ReceiptState.FAILED,
    }


def test_for_cases_agrees_with_for_case(world: World) -> None:
    a, b = _recovered(world, "ines", "jon")
    _add_receipts(world, b, 2)
    with world.svc.uow(read_only=True) as uow:
        many = uow.receipts.for_cases([b, a, "no-such-case", a])
        singles = {cid: uow.receipts.for_case(cid) for cid in (a, b, "no-such-case")}
    assert many == singles
    assert [len(many[a]), len(many[b]), len(many["no-such-case"])] == [1, 3, 0]
    assert [r.id for r in many[b]] == sorted(r.id for r in many[b])


# -- tokens, secrets, contacts, subjects, repudiations ---------------------------------
def test_redeemed_at_many_agrees_with_redeemed_at(world: World) -> None:
    redeemed = _recovered(world, "kai", "lea")
    (unredeemed,) = _clone_cases(world, redeemed[0], 1)  # a case with no token at all
    with world.svc.uow(read_only=True) as uow:
        many = uow.tokens.redeemed_at_many([*redeemed, unredeemed, "no-such-case"])
        singles = {cid: uow.tokens.redeemed_at(cid) for cid in (*redeemed, unredeemed)}
    assert set(many) == set(redeemed)
    assert all(many[cid] == singles[cid] for cid in redeemed)
    assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in many.values())
    assert singles[unredeemed] is None


def test_wipe_many_agrees_with_wipe(world: World) -> None:
    a, b, c = _recovered(world, "mia", "ned", "ola")
    with world.svc.uow() as uow:
        assert uow.secrets.get(a) is not None and uow.secrets.get(b) is not None
        held = uow.secrets.wipe_many([a, b, "no-such-case", a])
        assert uow.secrets.wipe(c) is True
        uow.commit()
    assert held == {a, b}
    with world.svc.uow() as uow:
        assert _rows(world, sealed_secrets, "case_id", [a, b, c]) == {}
        assert uow.secrets.wipe_many([a, c]) == set()
        assert uow.secrets.wipe(a) is False


def test_confirmed_many_and_subjects_get_many_agree_with_their_single_reads(
    world: World,
) -> None:
    """Confirmed, not removed contacts (R-14) and linked accounts, per subject,
    in the order the single reads give them."""
    world.subject("pia")
    world.subject("quin")
    world.subject("rolf", email=False)
    now = world.clock.now()
    with world.svc.uow() as uow:
        uow.contacts.add(
            "pia", ContactKind.EMAIL, "pia@second.example.org", now=now, confirmed=True
        )
        gone = uow.contacts.add(
            "pia", ContactKind.EMAIL, "pia@gone.example.org", now=now, confirmed=True
        )
        uow.contacts.remove(gone, now=now)
        uow.conn.execute(
            linked_accounts.insert().values(target="cloud", account_id="pia.c", subject_id="pia")
        )
        uow.commit()
    asked = ["quin", "pia", "rolf", "nobody", "pia"]
    with world.svc.uow(read_only=True) as uow:
        contacts = uow.contacts.confirmed_many(asked)
        single_contacts = {s: uow.contacts.confirmed(s) for s in ("pia", "quin", "rolf", "nobody")}
        subjects = uow.subjects.get_many(asked)
        single_subjects = {s: uow.subjects.get(s) for s in ("pia", "quin", "rolf")}
        assert uow.subjects.get("nobody") is None
    assert contacts == single_contacts
    assert [c.address for c in contacts["pia"]] == ["pia@example.org", "pia@second.example.org"]
    assert contacts["rolf"] == () and contacts["nobody"] == ()
    assert subjects == single_subjects
    assert [(a.target, a.account_id) for a in subjects["pia"].accounts] == [
        ("cloud", "pia.c"),
        ("directory", "pia"),
    ]


def test_repudiation_add_many_stores_what_add_stores(world: World) -> None:
    """The "this wasn't me" tokens of a batch (R-22): same rows, each usable once."""
    a, b = _recovered(world, "sven", "tara")
    now = world.clock.now()
    expires = now + timedelta(days=7)
    d1, d2, d3 = (secrets.token_hex(32) for _ in range(3))
    with world.svc.uow() as uow:
        uow.repudiations.add(case_id=a, digest=d1, now=now, expires_at=expires)
        uow.repudiations.add_many([(a, d2), (b, d3)], now=now, expires_at=expires)
        uow.repudiations.add_many([], now=now, expires_at=expires)
        uow.commit()
    rows = _rows(world, repudiation_tokens, "digest", [d1, d2, d3])
    assert len(rows) == 3
    strip = {"id", "digest"}
    one, two, three = ({k: v for k, v in rows[d].items() if k not in strip} for d in (d1, d2, d3))
    assert two == one
    assert three == {**one, "case_id": b}
    with world.svc.uow() as uow:
        assert uow.repudiations.use(d2, now=now) == a
        assert uow.repudiations.use(d3, now=now) == b
        assert uow.repudiations.use(d2, now=now) is None
        uow.commit()


def test_of_types_with_an_actor_prefix_keeps_exactly_the_entries_it_names(
    world: World,
) -> None:
    """The anomaly pass's read (docs/oversight.md): the database drops other
    actors before decoding, and what is left is exactly the entries whose actor
    starts with the prefix (LIKE's looser case and wildcards admit none more)."""
    now = world.clock.now()
    actors = ["operator:op_1", "OPERATOR:op_2", "operatorXop_3", "system:worker", "operator:"]
    with world.svc.uow() as uow:
        uow.ledger.append(
            DomainEvent(EventType.CASE_APPROVED, now, actor, "s-1", f"c-{n}")
            for n, actor in enumerate(actors)
        )
        uow.commit()
    types = [str(EventType.CASE_APPROVED)]
    since = now - timedelta(minutes=1)
    with world.svc.uow(read_only=True) as uow:
        everything = uow.ledger.of_types(types, since=since)
        named = uow.ledger.of_types(types, since=since, actor_prefix="operator:")
        odd = uow.ledger.of_types(types, since=since, actor_prefix="operator_")
    assert named == [e for e in everything if str(e["actor"]).startswith("operator:")]
    assert [e["actor"] for e in named] == ["operator:op_1", "operator:"]
    assert odd == []  # "_" is no wildcard here


# -- insert_many ---------------------------------------------------------------------
def _ledger_rows(prefix: str, start: int) -> list[dict[str, Any]]:
    """Rows far beyond the real tree (leaf indexes from 10**9), with awkward
    values: microseconds, zero/high bytes, non-ASCII text, NULLs."""
    base = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
    return [
        {
            "event_id": f"{prefix}-{n}-{secrets.token_hex(4)}",
            "type": "test:bulk:row",
            "occurred_at": base + timedelta(microseconds=n * 1001, days=n),
            "actor": "système ✓",
            "subject_id": None if n % 2 else f"s-{n}",
            "case_id": None,
            "outcome": "success",
            "canonical": '{"n":' + str(n) + ',"text":"é\\u0000"}',
            "leaf_index": start + n,
            "leaf_hash": bytes([0, 255, n, 10, 13, 0]) + secrets.token_bytes(26),
        }
        for n in range(4)
    ]


def test_insert_many_stores_exactly_what_an_executemany_insert_stores(world: World) -> None:
    """The ledger's rows through ``insert_many`` read back equal to the same rows
    through ``conn.execute(table.insert(), rows)``: timestamps (timezone-aware,
    the same instant) and bytes unchanged (R-38: the leaf hashes are the proof)."""
    plain = _ledger_rows("plain", 10**9)
    bulk = [
        {**row, "event_id": row["event_id"].replace("plain", "bulk"), "leaf_index": 10**9 + 100 + n}
        for n, row in enumerate(plain)
    ]
    with world.svc.uow() as uow:
        uow.conn.execute(ledger.insert(), plain)
        insert_many(uow.conn, ledger, bulk)
        insert_many(uow.conn, ledger, [])  # nothing to do, no statement
        uow.commit()
    with world.svc.uow(read_only=True) as uow:
        stored = {
            r.event_id: r
            for r in uow.conn.execute(
                select(ledger).where(ledger.c.leaf_index >= 10**9).order_by(ledger.c.seq)
            )
        }
    assert len(stored) == 8
    seqs = [stored[row["event_id"]].seq for row in bulk]
    assert seqs == sorted(seqs)  # list order is sequence order
    for given, mine in zip(plain, bulk, strict=True):
        a, b = stored[given["event_id"]], stored[mine["event_id"]]
        for column in ("type", "actor", "subject_id", "case_id", "outcome", "canonical"):
            assert getattr(a, column) == getattr(b, column) == given[column]
        assert bytes(a.leaf_hash) == bytes(b.leaf_hash) == given["leaf_hash"]
        assert a.occurred_at == b.occurred_at  # as the database hands them back
        for value in (a.occurred_at, b.occurred_at):
            read = value if value.tzinfo else value.replace(tzinfo=UTC)  # mapping.aware
            assert read == given["occurred_at"]
            assert read.tzinfo is not None


def test_insert_many_of_a_non_utc_time_matches_the_executemany_insert(world: World) -> None:
    """Whatever a database makes of an offset other than UTC, both paths store
    the same thing."""
    plus_two = timezone(timedelta(hours=2))
    at = datetime(2026, 7, 1, 12, 30, 15, 250000, tzinfo=plus_two)
    rows = _ledger_rows("tz", 2 * 10**9)
    plain = [{**rows[0], "occurred_at": at}]
    bulk = [{**rows[1], "occurred_at": at}]
    with world.svc.uow() as uow:
        uow.conn.execute(ledger.insert(), plain)
        insert_many(uow.conn, ledger, bulk)
        uow.commit()
    stored = _rows(world, ledger, "event_id", [plain[0]["event_id"], bulk[0]["event_id"]])
    assert stored[plain[0]["event_id"]]["occurred_at"] == stored[bulk[0]["event_id"]]["occurred_at"]


def test_insert_many_fills_python_side_column_defaults_as_execute_does(world: World) -> None:
    """``throttles.failures`` has a Python-side default (0): an INSERT through
    SQLAlchemy fills it when a row leaves it out; ``insert_many`` promises to
    store exactly what that INSERT stores."""
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with world.svc.uow() as uow:
        uow.conn.execute(throttles.insert(), [{"key": "plain", "last_failure_at": at}])
        insert_many(uow.conn, throttles, [{"key": "bulk", "last_failure_at": at}])
        uow.commit()
    stored = _rows(world, throttles, "key", ["plain", "bulk"])
    assert stored["bulk"]["failures"] == stored["plain"]["failures"] == 0
