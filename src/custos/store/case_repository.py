"""Recovery cases. ``save`` writes the case, its new approvals and proofs, and
its pending domain events to the ledger, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError

from custos.domain.errors import NotFound, SeparationOfDuties
from custos.domain.model import Case, Requirements, RiskAssessment
from custos.domain.states import CaseState
from custos.store.bulk import ByIds, insert_many
from custos.store.bulk_update import update_many
from custos.store.ledger_repository import LedgerRepository
from custos.store.mapping import case_from_rows, case_to_row, stored_json
from custos.store.tables import approvals, cases, proofs, subjects

#: What a case is loaded from: its JSON columns as their stored text, so the
#: requirements every case of a tier shares are decoded once (mapping).
_CASE = tuple(
    stored_json(c) if c.key in ("requirements", "risk_reasons") else c for c in cases.columns
)


#: Cases by id, in id order (``get_many``), and locked in that order.
_MANY = ByIds(cases.c.id, lambda in_: select(*_CASE).where(in_).order_by(cases.c.id))
_MANY_LOCKED = _MANY.then(lambda query: query.with_for_update())
#: The frozen requirements of cases by id (``actions_of``).
_ACTIONS = ByIds(cases.c.id, lambda in_: select(cases.c.id, cases.c.requirements).where(in_))


class ConcurrentUpdate(Exception):
    """Another transaction changed the case first; the caller may retry."""


class CaseRepository:
    def __init__(self, conn: Connection, ledger: LedgerRepository) -> None:
        self._conn = conn
        self._ledger = ledger
        # How many approvals/proofs each loaded case had, so save() inserts only new ones.
        self._seen: dict[str, tuple[int, int]] = {}
        # The requirements and risk each case loaded by get_many had, at which
        # version: save_many leaves their columns alone while they are the same
        # objects (both are frozen), instead of encoding them again.
        self._loaded: dict[str, tuple[Requirements, RiskAssessment, int]] = {}

    def add(self, case: Case, *, source_address: str | None = None) -> None:
        self._conn.execute(
            cases.insert().values(**case_to_row(case), source_address=source_address, version=0)
        )
        self._seen[case.id] = (0, 0)
        self._write_children(case)
        self._flush_events(case)

    def add_many(self, new: Sequence[Case]) -> None:
        """``add`` for many new cases at once (an incident campaign's batch):
        bulk inserts of the rows and their approvals and proofs, and one ledger
        append of all their events in the order of ``new``."""
        if not new:
            return
        # The rows through insert_many: one executemany without SQLAlchemy's
        # per-row parameter processing (a campaign batch is hundreds of rows).
        insert_many(
            self._conn,
            cases,
            [{**case_to_row(c), "source_address": None, "version": 0} for c in new],
        )
        approval_rows = [
            {
                "case_id": c.id,
                "operator_id": a.operator_id,
                "person": a.person,
                "decided_at": a.decided_at,
                "reason": a.reason,
            }
            for c in new
            for a in c.approvals
        ]
        insert_many(self._conn, approvals, approval_rows)
        proof_rows = [
            {
                "case_id": c.id,
                "method": p.method,
                "passed": p.passed,
                "at": p.at,
                "actor": p.actor,
                "phishing_resistant": p.phishing_resistant,
            }
            for c in new
            for p in c.proofs
        ]
        if proof_rows:
            self._conn.execute(proofs.insert(), proof_rows)
        events = []
        for case in new:
            self._seen[case.id] = (len(case.approvals), len(case.proofs))
            events.extend(case.pending_events)
            case.pending_events.clear()
        self._ledger.append(events)

    def get(self, case_id: str, *, for_update: bool = False, children: bool = True) -> Case:
        """Load a case; ``for_update`` locks its row on PostgreSQL until commit.
        ``children=False`` skips approvals and proofs (the worker's moves need
        neither; such a case must not be approved or proofed). Raises NotFound."""
        query = select(*_CASE).where(cases.c.id == case_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            raise NotFound(f"no case '{case_id}'", case_id=case_id)
        if not children:
            self._seen[case_id] = (0, 0)
            return case_from_rows(row, [], [])
        approval_rows = list(
            self._conn.execute(
                select(approvals).where(approvals.c.case_id == case_id).order_by(approvals.c.id)
            )
        )
        proof_rows = list(
            self._conn.execute(
                select(proofs).where(proofs.c.case_id == case_id).order_by(proofs.c.id)
            )
        )
        self._seen[case_id] = (len(approval_rows), len(proof_rows))
        return case_from_rows(row, approval_rows, proof_rows)

    def get_many(self, case_ids: Iterable[str], *, for_update: bool = False) -> dict[str, Case]:
        """Several cases in one query, without approvals and proofs (as
        ``get(..., children=False)``), in id order: rows locked in the same order
        by every worker cannot deadlock. Unknown ids are absent."""
        found: dict[str, Case] = {}
        for result in (_MANY_LOCKED if for_update else _MANY).execute(self._conn, case_ids):
            for row in result.all():  # one fetchall, not one fetch a row
                self._seen[row.id] = (0, 0)
                case = found[row.id] = case_from_rows(row, [], [])
                self._loaded[row.id] = (case.requirements, case.risk, case.version)
        return found

    def save_many(self, changed: Sequence[Case]) -> None:
        """``save`` for cases loaded by ``get_many``: one UPDATE statement for all
        rows (same optimistic version check) and one ledger append for all their
        events, in the order of ``changed``. Raises ConcurrentUpdate when any row
        moved on meanwhile (the caller's transaction then rolls back as a whole)."""
        if not changed:
            return
        # Rows whose requirements and risk are as loaded (at the version the
        # update matches) leave those columns as stored; the others write all.
        shapes: dict[bool, list[tuple[tuple[str, int], dict[str, Any]]]] = {}
        for case in changed:
            if case.approvals or case.proofs:
                raise ValueError("save_many takes cases loaded without children")
            loaded = self._loaded.get(case.id)
            same = (
                loaded is not None
                and loaded[0] is case.requirements
                and loaded[1] is case.risk
                and loaded[2] == case.version
            )
            row = case_to_row(case, with_frozen=not same)
            case_id = row.pop("id")
            row["version"] = case.version + 1
            shapes.setdefault(same, []).append(((case_id, case.version), row))
        # Compiled once, the rows straight to the driver's executemany.
        count = expected = 0
        for params in shapes.values():
            updated = update_many(self._conn, cases, params, where=("id", "version"))
            count = -1 if -1 in (count, updated) else count + updated
            expected += len(params)
        if count not in (-1, expected):
            raise ConcurrentUpdate(f"{expected - count} case(s) changed concurrently")
        events = []
        for case in changed:
            case.version += 1
            events.extend(case.pending_events)
            case.pending_events.clear()
        self._ledger.append(events)

    def save(self, case: Case) -> None:
        """Persist changes with an optimistic version check. Raises ConcurrentUpdate,
        or SeparationOfDuties when the same person's approval races in twice."""
        row = case_to_row(case)
        row.pop("id")
        result = self._conn.execute(
            cases.update()
            .where(and_(cases.c.id == case.id, cases.c.version == case.version))
            .values(**row, version=case.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"case {case.id} changed concurrently")
        case.version += 1
        self._write_children(case)
        self._flush_events(case)

    def drop_approvals(self, case: Case) -> None:
        """Delete the stored approvals of ``case`` (loaded for update), whose
        ``approvals`` the caller cleared: a break-glass use starts its quorum
        afresh (docs/exceptions.md). ``save`` then writes only new ones."""
        self._conn.execute(approvals.delete().where(approvals.c.case_id == case.id))
        _, seen_proofs = self._seen.get(case.id, (0, 0))
        self._seen[case.id] = (0, seen_proofs)

    def _write_children(self, case: Case) -> None:
        seen_approvals, seen_proofs = self._seen.get(case.id, (0, 0))
        for approval in case.approvals[seen_approvals:]:
            try:
                with self._conn.begin_nested():
                    self._conn.execute(
                        approvals.insert().values(
                            case_id=case.id,
                            operator_id=approval.operator_id,
                            person=approval.person,
                            decided_at=approval.decided_at,
                            reason=approval.reason,
                        )
                    )
            except IntegrityError as exc:
                raise SeparationOfDuties(
                    "this person has already approved the case; one person counts once (R-33)",
                    rule="already_approved",
                ) from exc
        for proof in case.proofs[seen_proofs:]:
            self._conn.execute(
                proofs.insert().values(
                    case_id=case.id,
                    method=proof.method,
                    passed=proof.passed,
                    at=proof.at,
                    actor=proof.actor,
                    phishing_resistant=proof.phishing_resistant,
                )
            )
        self._seen[case.id] = (len(case.approvals), len(case.proofs))

    def _flush_events(self, case: Case) -> None:
        self._ledger.append(case.pending_events)
        case.pending_events.clear()

    def search(
        self,
        *,
        state: CaseState | None = None,
        subject_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        query = select(
            cases.c.id,
            cases.c.subject_id,
            cases.c.channel,
            cases.c.state,
            cases.c.tier,
            cases.c.risk_score,
            cases.c.risk_band,
            cases.c.opened_at,
            cases.c.updated_at,
            cases.c.requested_by,
        ).order_by(cases.c.opened_at.desc(), cases.c.id)
        if state is not None:
            query = query.where(cases.c.state == str(state))
        if subject_id is not None:
            query = query.where(cases.c.subject_id == subject_id)
        page = query.limit(limit).offset(offset)
        return [dict(r._mapping) for r in self._conn.execute(page)]

    def actions_of(self, case_ids: Iterable[str]) -> dict[str, str]:
        """The credential action frozen on each case (``requirements.action``),
        read without loading the cases (the worker's writes need it)."""
        found: dict[str, str] = {}
        for rows in _ACTIONS.execute(self._conn, case_ids):
            found.update({row.id: str(row.requirements["action"]) for row in rows})
        return found

    def ids_in_states(self, states: set[CaseState], limit: int = 500) -> list[str]:
        query = (
            select(cases.c.id)
            .where(cases.c.state.in_([str(s) for s in states]))
            .order_by(cases.c.opened_at)
            .limit(limit)
        )
        return list(self._conn.execute(query).scalars())

    def ids_under_hold(
        self,
        states: Iterable[CaseState],
        *,
        subject_id: str | None = None,
        group: str | None = None,
        held_only: bool = False,
    ) -> list[str]:
        """Ids of the cases in ``states`` of one subject, or of every subject
        in ``group`` (membership as the subject's groups state it now), in id
        order; ``held_only``: only cases a hold blocked (``held_from`` set)."""
        query = (
            select(cases.c.id, subjects.c.groups)
            .join(subjects, subjects.c.id == cases.c.subject_id)
            .where(cases.c.state.in_([str(s) for s in states]))
            .order_by(cases.c.id)
        )
        if subject_id is not None:
            query = query.where(cases.c.subject_id == subject_id)
        if held_only:
            query = query.where(cases.c.held_from.is_not(None))
        return [
            row.id
            for row in self._conn.execute(query)
            if group is None or group in (row.groups or ())
        ]

    def expired_ids(self, states: set[CaseState], now: datetime, limit: int = 500) -> list[str]:
        query = (
            select(cases.c.id)
            .where(cases.c.state.in_([str(s) for s in states]), cases.c.expires_at <= now)
            .limit(limit)
        )
        return list(self._conn.execute(query).scalars())

    def opened_between(self, start: datetime, end: datetime, *, limit: int) -> list[Case]:
        """Cases opened at or after ``start`` and before ``end``, oldest first, at
        most ``limit``, without approvals and proofs (read only: not for saving)."""
        query = (
            select(*_CASE)
            .where(cases.c.opened_at >= start, cases.c.opened_at < end)
            .order_by(cases.c.opened_at, cases.c.id)
            .limit(limit)
        )
        return [case_from_rows(row, [], []) for row in self._conn.execute(query)]

    def count_opened_between(self, start: datetime, end: datetime) -> int:
        query = select(func.count()).where(cases.c.opened_at >= start, cases.c.opened_at < end)
        return int(self._conn.execute(query).scalar_one())

    def recent_count(self, subject_id: str, since: datetime) -> int:
        query = select(func.count()).where(
            cases.c.subject_id == subject_id, cases.c.opened_at >= since
        )
        return int(self._conn.execute(query).scalar_one())

    def recent_failed_proofs(self, subject_id: str, since: datetime) -> int:
        query = (
            select(func.count())
            .select_from(proofs.join(cases, proofs.c.case_id == cases.c.id))
            .where(cases.c.subject_id == subject_id, proofs.c.at >= since, ~proofs.c.passed)
        )
        return int(self._conn.execute(query).scalar_one())

    def known_sources(self, subject_id: str, limit: int = 50) -> frozenset[str]:
        query = (
            select(cases.c.source_address)
            .where(cases.c.subject_id == subject_id, cases.c.source_address.is_not(None))
            .distinct()
            .limit(limit)
        )
        return frozenset(str(s) for s in self._conn.execute(query).scalars())


RECENT_RECOVERY_WINDOW = timedelta(days=30)
RECENT_FAILURE_WINDOW = timedelta(days=7)
