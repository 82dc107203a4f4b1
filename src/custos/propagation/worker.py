"""The propagation worker. The receipts table is the work queue: due receipts are
claimed with a lease (``SKIP LOCKED`` on PostgreSQL), the secret is unsealed only
for the connector call, results are recorded only while the lease is held, and a
worker that dies loses its lease, never a receipt. Connector calls never run
inside a database transaction.

One ``run_once`` pass: resolve pending self-service flows, expire lapsed cases,
attempt due receipts, then advance cases whose receipts are all final."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from custos.bootstrap import Services
from custos.connectors.errors import ConnectorError
from custos.connectors.spi import SetPasswordOp
from custos.domain.errors import DomainError
from custos.domain.events import EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case
from custos.domain.states import OPEN_FOR_DECISION, CaseState
from custos.export.delivery import export_due
from custos.ledger.heads import sign_tree_head_if_due
from custos.propagation import verification
from custos.service import notices
from custos.service.self_service import sweep_pending_flows
from custos.store.case_repository import ConcurrentUpdate
from custos.store.receipt_repository import FINAL, Receipt, ReceiptState
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.worker")

#: Passes between two sweeps for cases left between steps while work keeps coming.
SWEEP_EVERY = 50


@dataclass(frozen=True, slots=True)
class Outcome_:
    """What one attempt at a receipt came to (the target's answer, or its error)."""

    receipt: Receipt
    error: ConnectorError | None
    answer: str


class Worker:
    def __init__(self, svc: Services, *, owner: str | None = None) -> None:
        self.svc = svc
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.cfg = svc.settings.worker
        self._passes = 0

    # -- loop ----------------------------------------------------------------------
    def run_forever(
        self, stop: threading.Event, on_pass: Callable[[int], None] | None = None
    ) -> None:
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception:  # a bad pass must not kill the worker; the next pass retries
                log.exception("worker_pass_failed")
                done = 0
            if on_pass is not None:
                on_pass(done)
            if done == 0:
                stop.wait(self.cfg.poll_interval_s)

    def run_once(self) -> int:
        """One pass; returns how many units of work it did."""
        done = sweep_pending_flows(self.svc)
        done += self.expire_cases()
        receipts = self.claim()
        if receipts:
            outcomes = self._attempt_all(receipts)
            self._verify_all(self._record_all(outcomes))
        done += len(receipts)
        self._passes += 1
        if not receipts or self._passes % SWEEP_EVERY == 0:
            # Receipts conclude their own cases; this sweep only catches cases a
            # dead worker left between two steps.
            done += self.advance_cases()
        done += export_due(self.svc)
        done += sign_tree_head_if_due(self.svc)
        return done

    # -- expiry --------------------------------------------------------------------
    def expire_cases(self) -> int:
        now = self.svc.clock.now()
        with self.svc.uow() as uow:
            ids = uow.cases.expired_ids(set(OPEN_FOR_DECISION), now)
        for case_id in ids:
            with self.svc.uow() as uow:
                case = uow.cases.get(case_id, for_update=True)
                if not case.is_expired(now):
                    continue
                case.move(
                    CaseState.EXPIRED, at=now, actor=SYSTEM_ACTOR, reason="case lifetime ran out"
                )
                uow.tokens.void_live(case.subject_id, now=now, reason="case expired")
                uow.cases.save(case)
                uow.commit()
        return len(ids)

    # -- receipts ------------------------------------------------------------------
    def claim(self) -> list[Receipt]:
        now = self.svc.clock.now()
        with self.svc.uow() as uow:
            claimed = uow.receipts.claim_due(
                owner=self.owner,
                now=now,
                lease=timedelta(seconds=self.cfg.lease_s),
                limit=self.cfg.batch,
                skip_locked=not uow.sqlite,
            )
            uow.commit()
        return claimed

    def _attempt_all(self, receipts: list[Receipt]) -> list[Outcome_]:
        """Write every claimed receipt's secret to its target, in parallel threads;
        the secrets are read in one query and unsealed only for the call."""
        with self.svc.uow() as uow:
            sealed = uow.secrets.get_many({r.case_id for r in receipts})

        def one(receipt: Receipt) -> Outcome_:
            error, answer = self._write(receipt, sealed.get(receipt.case_id))
            return Outcome_(receipt, error, answer)

        if len(receipts) > 1 and self.cfg.parallelism > 1:
            with ThreadPoolExecutor(max_workers=self.cfg.parallelism) as pool:
                return list(pool.map(one, receipts))
        return [one(r) for r in receipts]

    def attempt(self, receipt: Receipt) -> None:
        """Set the secret on one target account, record the answer, and conclude
        and verify its case when it was the last receipt."""
        self._verify_all(self._record_all(self._attempt_all([receipt])))

    def _write(
        self, receipt: Receipt, sealed: tuple[bytes, bool] | None
    ) -> tuple[ConnectorError | None, str]:
        if sealed is None:
            return ConnectorError("the case holds no secret any more (wiped or cancelled)"), ""
        blob, must_change = sealed
        try:
            connector = self.svc.registry.operation(receipt.target, "set_password")
            assert isinstance(connector, SetPasswordOp)
            if must_change:
                # A temporary password that the target cannot force to be
                # changed would become a durable one: refuse, never downgrade.
                self.svc.registry.operation(receipt.target, "force_change")
            password = self.svc.sealer.unseal(blob, aad=receipt.case_id)
            answer = connector.set_password(receipt.account_id, password, must_change=must_change)
            del password
            return None, answer
        except ConnectorError as exc:
            return exc, ""
        except DomainError as exc:  # e.g. the secret does not unseal: never retryable
            return ConnectorError(exc.message), ""

    def _next_state(
        self, receipt: Receipt, error: ConnectorError | None, now: datetime
    ) -> tuple[ReceiptState, datetime | None]:
        attempts = receipt.attempts + 1
        if error is None:
            return ReceiptState.SUCCEEDED, None
        if error.retryable and attempts < receipt.max_attempts:
            delay = min(self.cfg.backoff_base_s * 2 ** (attempts - 1), self.cfg.backoff_max_s)
            return ReceiptState.RETRYABLE_FAILURE, now + timedelta(seconds=delay)
        return ReceiptState.FAILED, None

    def _record_all(self, outcomes: list[Outcome_]) -> list[str]:
        """Record every outcome in ONE transaction: the receipts (only while this
        worker still holds their lease), one ledger event each, and the conclusion
        of every case whose receipts are now all final. Returns the cases that
        moved to verifying."""
        now = self.svc.clock.now()
        by_case: dict[str, list[tuple[Outcome_, ReceiptState, datetime | None]]] = {}
        verifying: list[str] = []
        with self.svc.uow() as uow:
            for outcome in outcomes:
                state, next_at = self._next_state(outcome.receipt, outcome.error, now)
                error = outcome.error
                kept = uow.receipts.record(
                    outcome.receipt.id,
                    owner=self.owner,
                    state=state,
                    now=now,
                    answer=error.answer if error else outcome.answer,
                    error=type(error).__name__ if error else None,
                    next_attempt_at=next_at,
                )
                if kept:  # else the lease ran out and another worker owns the receipt
                    by_case.setdefault(outcome.receipt.case_id, []).append(
                        (outcome, state, next_at)
                    )
            # Every case row is locked (in one order for every worker) before the
            # first ledger append takes the ledger's own lock: never the reverse.
            locked = {
                cid: uow.cases.get(cid, for_update=True, children=False) for cid in sorted(by_case)
            }
            for case_id, case in locked.items():
                for outcome, state, next_at in by_case[case_id]:
                    self._emit_receipt(case, outcome, state, next_at, now)
                if self._conclude(uow, case, now) == CaseState.VERIFYING:
                    verifying.append(case_id)
                uow.cases.save(case)
            uow.commit()
        for case_id, recorded in by_case.items():
            for outcome, state, _ in recorded:
                log.info(
                    "receipt_recorded",
                    case=case_id,
                    target=outcome.receipt.target,
                    state=str(state),
                    attempt=outcome.receipt.attempts + 1,
                )
        return verifying

    @staticmethod
    def _emit_receipt(
        case: Case, outcome: Outcome_, state: ReceiptState, next_at: datetime | None, now: datetime
    ) -> None:
        error, receipt = outcome.error, outcome.receipt
        if error is None:
            kind = EventType.RECEIPT_SUCCEEDED
        elif state == ReceiptState.RETRYABLE_FAILURE:
            kind = EventType.RECEIPT_ATTEMPTED
        else:
            kind = EventType.RECEIPT_FAILED
        case.emit(
            kind,
            at=now,
            actor=SYSTEM_ACTOR,
            outcome=Outcome.SUCCESS if error is None else Outcome.FAILURE,
            reason=error.answer if error else outcome.answer,
            data={
                "target": receipt.target,
                "account": receipt.account_id,
                "attempt": receipt.attempts + 1,
                "state": str(state),
                **({"retry_at": next_at.isoformat()} if next_at else {}),
            },
        )

    # -- cases ---------------------------------------------------------------------
    def advance_cases(self) -> int:
        with self.svc.uow() as uow:
            executing = uow.cases.ids_in_states({CaseState.EXECUTING})
            verifying = uow.cases.ids_in_states({CaseState.VERIFYING})
        moved = 0
        for case_id in executing:
            moved += self._finish_propagation(case_id)
        for case_id in verifying:
            moved += self._verify(case_id)
        return moved

    def _finish_propagation(self, case_id: str) -> int:
        """Conclude a case whose receipts all became final without its worker
        concluding it (that worker died in between)."""
        now = self.svc.clock.now()
        with self.svc.uow() as uow:
            case = uow.cases.get(case_id, for_update=True)
            concluded = self._conclude(uow, case, now)
            if concluded is None:
                return 0
            try:
                uow.cases.save(case)
            except ConcurrentUpdate:
                return 0
            uow.commit()
        return 1

    @staticmethod
    def _conclude(uow: UnitOfWork, case: Case, now: datetime) -> CaseState | None:
        """When every receipt of an executing case is final, move it to verifying
        (all required ones succeeded) or needs_attention (naming the failures).
        Returns the new state, or None when the case is not ready."""
        if case.state != CaseState.EXECUTING:
            return None
        receipts = uow.receipts.for_case(case.id)
        if any(r.state not in FINAL for r in receipts):
            return None
        failed = [r for r in receipts if r.required and r.state != ReceiptState.SUCCEEDED]
        if failed:
            names = ", ".join(f"{r.target}/{r.account_id}" for r in failed)
            case.move(
                CaseState.NEEDS_ATTENTION,
                at=now,
                actor=SYSTEM_ACTOR,
                reason=f"propagation failed on: {names}",
            )
        else:
            case.move(
                CaseState.VERIFYING,
                at=now,
                actor=SYSTEM_ACTOR,
                reason="every required target has the new credential",
            )
        return case.state

    def _verify(self, case_id: str) -> int:
        return self._verify_all([case_id])

    def _verify_all(self, case_ids: list[str]) -> int:
        """Run the tiers' post-recovery checks for these cases: read what they
        need in one transaction, run the checks in parallel threads outside any
        transaction, record everything in one more. Returns how many concluded."""
        if not case_ids:
            return 0
        with self.svc.uow() as uow:
            work = []
            for case_id in case_ids:
                case = uow.cases.get(case_id, children=False)
                succeeded = [
                    r for r in uow.receipts.for_case(case_id) if r.state == ReceiptState.SUCCEEDED
                ]
                since = uow.tokens.redeemed_at(case_id) or case.executed_at or case.opened_at
                work.append((case_id, case.requirements.post_checks, succeeded, since))

        def check(
            item: tuple[str, tuple[str, ...], list[Receipt], datetime],
        ) -> tuple[str, list[verification.CheckResult]]:
            case_id, names, succeeded, since = item
            return case_id, verification.run_checks(
                self.svc.registry, names, succeeded, since=since
            )

        if len(work) > 1 and self.cfg.parallelism > 1:
            with ThreadPoolExecutor(max_workers=self.cfg.parallelism) as pool:
                results = dict(pool.map(check, work))
        else:
            results = dict(check(item) for item in work)
        now = self.svc.clock.now()
        concluded = 0
        with self.svc.uow() as uow:
            locked = {
                cid: uow.cases.get(cid, for_update=True, children=False) for cid in sorted(results)
            }  # all rows before any ledger append
            for case_id, case in locked.items():
                concluded += self._conclude_checks(uow, case, results[case_id], now)
            uow.commit()
        return concluded

    def _conclude_checks(
        self, uow: UnitOfWork, case: Case, results: list[verification.CheckResult], now: datetime
    ) -> int:
        case_id = case.id
        if case.state != CaseState.VERIFYING:
            return 0
        for result in results:
            uow.receipts.add_check(
                case_id,
                name=result.name,
                target=result.target,
                account_id=result.account_id,
                passed=result.passed,
                detail=result.detail,
                now=now,
            )
            case.emit(
                EventType.CHECK_PASSED if result.passed else EventType.CHECK_FAILED,
                at=now,
                actor=SYSTEM_ACTOR,
                outcome=Outcome.SUCCESS if result.passed else Outcome.FAILURE,
                reason=result.detail,
                data={"check": result.name, "target": result.target, "account": result.account_id},
            )
        failed = [r for r in results if not r.passed]
        if failed:
            case.move(
                CaseState.NEEDS_ATTENTION,
                at=now,
                actor=SYSTEM_ACTOR,
                reason="post-recovery check failed: "
                + ", ".join(f"{r.name} on {r.target}" for r in failed),
            )
        else:
            case.validated(
                at=now, by="system:post_checks", checks=sorted({r.name for r in results})
            )
            if uow.secrets.wipe(case_id):
                case.emit(EventType.SECRET_WIPED, at=now, actor=SYSTEM_ACTOR)
            subject = uow.subjects.get(case.subject_id)
            if subject is not None:  # sent after the commit, never inside it
                notices.notify_recovery(
                    self.svc, uow, case=case, subject=subject, event="completed", now=now
                )
        uow.cases.save(case)
        return 1
