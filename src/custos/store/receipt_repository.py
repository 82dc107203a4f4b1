"""Propagation receipts (one per target account of a case) and post-recovery
check results. The receipts table is the work queue: workers claim due rows
with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select

from custos.store.bulk import ByIds, chunks, insert_many
from custos.store.bulk_update import update_many
from custos.store.mapping import aware, maybe_aware
from custos.store.tables import checks, receipts


class ReceiptState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    RETRYABLE_FAILURE = "retryable_failure"
    FAILED = "failed"


FINAL = frozenset({ReceiptState.SUCCEEDED, ReceiptState.FAILED})


@dataclass(frozen=True, slots=True)
class Receipt:
    id: int
    case_id: str
    target: str
    account_id: str
    required: bool
    state: ReceiptState
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str | None
    answer: str | None
    succeeded_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """What ``record_many`` writes for one receipt: the attempt's result."""

    receipt_id: int
    state: ReceiptState
    answer: str
    error: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One post-recovery check result, as ``add_checks`` stores it."""

    case_id: str
    name: str
    target: str
    account_id: str
    passed: bool
    detail: str
    #: What the check saw: passed, failed or not_applicable (the target cannot run it).
    verdict: str = "passed"


#: The columns a Receipt is read from (not the lease, nor when it was created).
_RECEIPT = tuple(
    receipts.c[name]
    for name in (
        "id",
        "case_id",
        "target",
        "account_id",
        "required",
        "state",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "last_error",
        "answer",
        "succeeded_at",
        "updated_at",
    )
)


#: The receipts of a chunk of cases, in id order (``for_cases``).
_OF_CASES = ByIds(
    receipts.c.case_id, lambda in_: select(*_RECEIPT).where(in_).order_by(receipts.c.id)
)
#: How many receipts each of a chunk of cases has (``for_cases_after``).
_COUNTS = ByIds(
    receipts.c.case_id,
    lambda in_: (
        select(receipts.c.case_id, func.count().label("n")).where(in_).group_by(receipts.c.case_id)
    ),
)
#: The receipts of a chunk of ids that ``owner`` holds the lease of, as
#: ``record_many`` reads them (and, on PostgreSQL, locks them).
_HELD = ByIds(
    receipts.c.id,
    lambda in_: select(receipts.c.id).where(
        in_, receipts.c.lease_owner == bindparam("owner", type_=receipts.c.lease_owner.type)
    ),
)
_HELD_LOCKED = _HELD.then(lambda query: query.with_for_update())
#: The lease taken on a chunk of claimed receipts (``claim_due``).
_LEASE = ByIds(
    receipts.c.id,
    lambda in_: (
        receipts.update()
        .where(in_)
        .values(
            lease_owner=bindparam("b_owner", type_=receipts.c.lease_owner.type),
            lease_until=bindparam("b_until", type_=receipts.c.lease_until.type),
        )
    ),
)


def _receipt(row: Any) -> Receipt:
    return Receipt(
        id=row.id,
        case_id=row.case_id,
        target=row.target,
        account_id=row.account_id,
        required=bool(row.required),
        state=ReceiptState(row.state),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        next_attempt_at=aware(row.next_attempt_at),
        last_error=row.last_error,
        answer=row.answer,
        succeeded_at=maybe_aware(row.succeeded_at),
        updated_at=aware(row.updated_at),
    )


def as_recorded(receipt: Receipt, attempt: Attempt, *, now: datetime) -> Receipt:
    """``receipt`` (as claimed) as ``record_many(..., [attempt], now=now)`` leaves
    it when it writes it: what ``for_case`` reads back in that transaction.
    The writer held the lease from the claim on, and only the lease holder
    writes a receipt's other columns (``retry`` takes the lease away), so the
    claimed attempt count is the stored one."""
    succeeded = attempt.state == ReceiptState.SUCCEEDED
    return Receipt(  # every field named (dataclasses.replace costs several times more)
        id=receipt.id,
        case_id=receipt.case_id,
        target=receipt.target,
        account_id=receipt.account_id,
        required=receipt.required,
        state=attempt.state,
        attempts=receipt.attempts + 1,
        max_attempts=receipt.max_attempts,
        next_attempt_at=attempt.next_attempt_at or receipt.next_attempt_at,
        last_error=attempt.error,
        answer=attempt.answer,
        succeeded_at=now if succeeded else receipt.succeeded_at,
        updated_at=now,
    )


class ReceiptRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def create(
        self,
        case_id: str,
        accounts: list[tuple[str, str, bool]],
        *,
        now: datetime,
        max_attempts: int,
    ) -> None:
        """One pending receipt per (target, account_id, required)."""
        self.create_many({case_id: accounts}, now=now, max_attempts=max_attempts)

    def create_many(
        self,
        accounts: dict[str, list[tuple[str, str, bool]]],
        *,
        now: datetime,
        max_attempts: int,
    ) -> None:
        """``create`` for many cases (case id -> accounts) in one statement."""
        rows = [
            {
                "case_id": case_id,
                "target": target,
                "account_id": account_id,
                "required": required,
                "state": str(ReceiptState.PENDING),
                "attempts": 0,
                "max_attempts": max_attempts,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for case_id, items in accounts.items()
            for target, account_id, required in items
        ]
        if rows:
            self._conn.execute(receipts.insert(), rows)

    def claim_due(
        self, *, owner: str, now: datetime, lease: timedelta, limit: int, skip_locked: bool
    ) -> list[Receipt]:
        """Lease up to ``limit`` receipts whose attempt is due and whose lease (if
        any) ran out. A worker that dies loses its lease, never the receipt."""
        query = (
            select(*_RECEIPT)
            .where(
                receipts.c.state.in_(
                    [str(ReceiptState.PENDING), str(ReceiptState.RETRYABLE_FAILURE)]
                ),
                receipts.c.next_attempt_at <= now,
                or_(receipts.c.lease_until.is_(None), receipts.c.lease_until <= now),
            )
            .order_by(receipts.c.next_attempt_at, receipts.c.id)
            .limit(limit)
        )
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        rows = self._conn.execute(query).all()
        _LEASE.run(self._conn, [r.id for r in rows], {"b_owner": owner, "b_until": now + lease})
        return [_receipt(r) for r in rows]

    def renew_leases(
        self, *, owner: str, ids: Iterable[int], now: datetime, lease: timedelta
    ) -> set[int]:
        """Extend the lease of each of ``ids`` that ``owner`` still holds (nobody
        took it over, even if it ran out) and whose receipt is not final.
        Returns the ids renewed."""
        held: set[int] = set()
        for chunk in chunks(ids):
            query = select(receipts.c.id).where(
                receipts.c.id.in_(chunk),
                receipts.c.lease_owner == owner,
                receipts.c.state.in_(
                    [str(ReceiptState.PENDING), str(ReceiptState.RETRYABLE_FAILURE)]
                ),
            )
            if self._conn.dialect.name == "postgresql":
                query = query.with_for_update()
            found = set(self._conn.execute(query).scalars())
            if found:
                self._conn.execute(
                    receipts.update()
                    .where(receipts.c.id.in_(found), receipts.c.lease_owner == owner)
                    .values(lease_until=now + lease)
                )
            held |= found
        return held

    def get(self, receipt_id: int) -> Receipt:
        row = self._conn.execute(select(*_RECEIPT).where(receipts.c.id == receipt_id)).one()
        return _receipt(row)

    def record(
        self,
        receipt_id: int,
        *,
        owner: str,
        state: ReceiptState,
        now: datetime,
        answer: str,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Write an attempt's result if ``owner`` still holds the lease. False when
        the lease was lost (another worker took over): the result is dropped."""
        attempt = Attempt(receipt_id, state, answer, error, next_attempt_at)
        return receipt_id in self.record_many(owner, [attempt], now=now)

    def record_many(self, owner: str, results: Sequence[Attempt], *, now: datetime) -> set[int]:
        """``record`` for many receipts in few statements: the ids whose lease
        ``owner`` still holds are read (and locked on PostgreSQL) first, then only
        those are written. Returns the ids written; the others' results are dropped
        (another worker took them over)."""
        if not results:
            return set()
        held: set[int] = set()
        query = _HELD_LOCKED if self._conn.dialect.name == "postgresql" else _HELD
        for chunk in query.execute(self._conn, (r.receipt_id for r in results), {"owner": owner}):
            held.update(chunk.scalars())
        # One executemany per shape of SET clause (with or without the success
        # time and the next attempt), each row only while its lease holds.
        shapes: dict[tuple[bool, bool], list[tuple[tuple[int, str], dict[str, Any]]]] = {}
        for result in results:
            if result.receipt_id not in held:
                continue
            params: dict[str, Any] = {
                "state": str(result.state),
                "answer": result.answer,
                "last_error": result.error,
                "updated_at": now,
                "lease_owner": None,
                "lease_until": None,
            }
            succeeded = result.state == ReceiptState.SUCCEEDED
            if succeeded:
                params["succeeded_at"] = now
            if result.next_attempt_at is not None:
                params["next_attempt_at"] = result.next_attempt_at
            shapes.setdefault((succeeded, result.next_attempt_at is not None), []).append(
                ((result.receipt_id, owner), params)
            )
        for batch in shapes.values():
            # Compiled once, the rows straight to the driver's executemany.
            update_many(
                self._conn, receipts, batch, where=("id", "lease_owner"), plus_one=("attempts",)
            )
        return held

    def retry(self, case_id: str, *, now: datetime, target: str | None = None) -> int:
        """Put failed receipts of a case back in the queue with fresh attempts."""
        query = receipts.update().where(
            receipts.c.case_id == case_id,
            receipts.c.state.in_([str(ReceiptState.FAILED), str(ReceiptState.RETRYABLE_FAILURE)]),
        )
        if target is not None:
            query = query.where(receipts.c.target == target)
        result = self._conn.execute(
            query.values(
                state=str(ReceiptState.PENDING),
                attempts=0,
                next_attempt_at=now,
                updated_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )
        return int(result.rowcount)

    def for_case(self, case_id: str) -> list[Receipt]:
        rows = self._conn.execute(
            select(*_RECEIPT).where(receipts.c.case_id == case_id).order_by(receipts.c.id)
        )
        return [_receipt(r) for r in rows]

    def for_cases(self, case_ids: Iterable[str]) -> dict[str, list[Receipt]]:
        """``for_case`` for several cases in one query per 500 ids; a case with no
        receipts maps to an empty list."""
        found: dict[str, list[Receipt]] = {case_id: [] for case_id in case_ids}
        for result in _OF_CASES.execute(self._conn, found):
            for row in result.all():
                found[row.case_id].append(_receipt(row))
        return found

    def for_cases_after(
        self, case_ids: Iterable[str], recorded: Iterable[Receipt]
    ) -> dict[str, list[Receipt]]:
        """``for_cases``, where ``recorded`` are receipts this transaction just
        wrote, as it wrote them (``as_recorded`` of what ``record_many`` kept):
        a case whose receipts in the database are as many as its receipts in
        ``recorded`` (so exactly those) is answered from them, without reading
        its rows; the other cases (some receipt recorded by another batch, or
        not yet attempted) are read as ``for_cases`` reads them."""
        found: dict[str, list[Receipt]] = {case_id: [] for case_id in case_ids}
        mine: dict[str, dict[int, Receipt]] = {}
        for receipt in recorded:
            if receipt.case_id in found:
                mine.setdefault(receipt.case_id, {})[receipt.id] = receipt
        stored: dict[str, int] = {}
        for counted in _COUNTS.execute(self._conn, mine):
            stored.update((row.case_id, int(row.n)) for row in counted.all())
        rest = [case_id for case_id in found if stored.get(case_id) != len(mine.get(case_id, {}))]
        for case_id, receipts_of in mine.items():
            if stored.get(case_id) == len(receipts_of):
                found[case_id] = [receipts_of[i] for i in sorted(receipts_of)]
        if rest:
            found.update(self.for_cases(rest))
        return found

    def add_checks(self, rows: Sequence[CheckRow], *, now: datetime) -> None:
        """Store post-recovery check results, in one ``executemany`` compiled
        once (``insert_many``: SQLAlchemy's own re-processes every row in Python,
        and the worker stores a batch's checks, several per case, at once)."""
        if rows:
            insert_many(
                self._conn,
                checks,
                [
                    {
                        "case_id": r.case_id,
                        "name": r.name,
                        "target": r.target,
                        "account_id": r.account_id,
                        "passed": r.passed,
                        "detail": r.detail,
                        "verdict": r.verdict,
                        "at": now,
                    }
                    for r in rows
                ],
            )

    def checks_for_case(self, case_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            select(checks).where(checks.c.case_id == case_id).order_by(checks.c.id)
        )
        return [
            {
                "name": r.name,
                "target": r.target,
                "account_id": r.account_id,
                "passed": bool(r.passed),
                "verdict": r.verdict or ("passed" if r.passed else "failed"),
                "detail": r.detail,
                "at": aware(r.at),
            }
            for r in rows
        ]
