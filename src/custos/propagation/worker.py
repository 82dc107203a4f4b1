"""The propagation worker. The receipts table is the work queue: due receipts are
claimed with a lease (``SKIP LOCKED`` on PostgreSQL), the secret is unsealed only
for the connector call, results are recorded only while the lease is held, and a
worker that dies loses its lease, never a receipt. Connector calls never run
inside a database transaction.

One ``run_once`` pass: resolve pending self-service flows, expire lapsed cases,
record holds whose end time passed (releasing the cases they blocked), send the
notices waiting in the outbox (the only place they are sent from, but for
the recovery notices of the cases a pass completes: written leased to this
worker and sent by it right after that commit), push the SETs waiting in the
SET outbox (shared signals), attempt due receipts, then advance cases whose
receipts are all final. ``run_forever`` runs such passes back to back while
work keeps coming, the time-driven chores among them (expiries, ended holds,
lapsed links, service-account graces, anomaly detection) at most every
:data:`CHORES_EVERY_S` then."""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import (
    PrepareWritesOp,
    ResetFactorsOp,
    RevokeSessionsOp,
    SetPasswordOp,
)
from custos.credentials import seal_contexts
from custos.domain.enrolment import Authenticator
from custos.domain.errors import DomainError
from custos.domain.events import EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case, Channel, CredentialAction
from custos.domain.states import OPEN_FOR_DECISION, CaseState
from custos.export.delivery import export_due
from custos.ledger.heads import sign_tree_head_if_due
from custos.propagation import graces, verification
from custos.propagation.leases import LeaseKeeper
from custos.service.campaigns.execution import run_campaigns
from custos.service.directories.sync import SYNC_ACTOR, sync_subjects
from custos.service.enrolment import subject_sessions
from custos.service.exceptions.expiry import expire_due_exceptions
from custos.service.holds.expiry import end_due_holds
from custos.service.notices import dispatch as notices
from custos.service.notices import outbox
from custos.service.notices.outbox_sweep import deliver_due, deliver_handover
from custos.service.oversight.anomalies import AnomalyPass
from custos.service.oversight.refusals import close_windows as close_refusal_windows
from custos.service.ports import Services
from custos.service.recovery import tap_issue
from custos.service.recovery.self_service import sweep_pending_flows
from custos.service.recovery.shared_accounts import wipe_lapsed as wipe_lapsed_owner_links
from custos.service.service_accounts import issuing, schedule
from custos.service.shared_signals import delivery as shared_signals
from custos.service.shared_signals.emission import Recovered, signal_recoveries
from custos.store.case_repository import ConcurrentUpdate
from custos.store.receipt_repository import (
    FINAL,
    Attempt,
    CheckRow,
    Receipt,
    ReceiptState,
    as_recorded,
)
from custos.store.schedules import claim_run
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.worker")

#: Passes between two sweeps for cases left between steps while work keeps coming.
SWEEP_EVERY = 50
#: While work keeps coming, the time-driven chores (expiries, ended holds,
#: lapsed links, refusal windows, service-account graces, anomaly detection)
#: run at most this often (seconds of the monotonic clock); an idle pass runs
#: them every time. The outbox, pending flows, campaigns and shared signals
#: run on every pass.
CHORES_EVERY_S = 1.0
#: The ``schedules`` row of the worker's ``subjects sync``.
SYNC_SCHEDULE = "subjects_sync"
#: The ``schedules`` row of the rotation schedule (R-40), and how often it runs.
ROTATION_SCHEDULE = "service_rotations"
ROTATION_CHECK_S = 3600.0


#: Net allocations of container objects between two collections of the cyclic
#: garbage collector's youngest generation in a worker process (CPython: 700).
GC_YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Collect the cyclic garbage collector's youngest generation every
    ``GC_YOUNG_THRESHOLD`` allocations instead of every 700, in a worker
    process (``bootstrap.settle_worker_process`` calls it after ``settle_heap``, which
    collects and freezes what startup built). A batch of recoveries allocates
    rows, events and messages by the hundred thousand, almost all freed by
    their reference counts; with the defaults the collector walked them (and
    the startup objects, in full collections) for about a sixth of the
    worker's CPU. Garbage in reference cycles is still collected, only in
    larger steps. Process-wide: called by the worker's own process, never by
    a process that only hosts a worker thread (the demo, tests)."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


@dataclass(frozen=True, slots=True)
class Outcome_:
    """What one attempt at a receipt came to (the target's answer, or its error)."""

    receipt: Receipt
    error: ConnectorError | None
    answer: str
    #: A rotate case's receipt (``propagation/graces.py`` records what became of
    #: the old credential).
    rotation: bool = False


class LeaseLost(ConnectorError):
    """The receipt's lease passed to another worker before this one wrote it."""


@dataclass(frozen=True, slots=True)
class Batch:
    """A claimed batch once written: each receipt's outcome, and what the targets
    that read many accounts at once answered when asked right after the writes
    about every account written there."""

    outcomes: list[Outcome_]
    read_back: dict[str, verification.ReadBack]

    def written(self) -> dict[str, set[str]]:
        return _written(self.outcomes)


def _written(outcomes: list[Outcome_]) -> dict[str, set[str]]:
    """The accounts that took their new secret, per target."""
    return verification.accounts_by_target(o.receipt for o in outcomes if o.error is None)


def _case_checks(
    case: Case,
    receipts: list[Receipt],
    redeemed: dict[str, datetime],
    bound: dict[str, tuple[Authenticator, ...]],
) -> verification.CaseChecks:
    """The tier's checks of a case, on its succeeded receipts, since the token's
    redemption (or, without one, since it was executed or opened), with the
    subject's authenticators bound in Custos (``bound``, for ``mfa_bound``)."""
    req = case.requirements
    return verification.CaseChecks(
        case_id=case.id,
        names=req.post_checks,
        receipts=[r for r in receipts if r.state == ReceiptState.SUCCEEDED],
        since=redeemed.get(case.id) or case.executed_at or case.opened_at,
        optional=req.optional_checks,
        subject_id=case.subject_id,
        mfa_authenticators=req.mfa_authenticators,
        bound=bound.get(case.subject_id, ()),
    )


def _sessions_ended(results: list[verification.CheckResult]) -> tuple[str, ...]:
    """The targets where the ``sessions_revoked`` check ended the sessions."""
    return tuple(
        sorted(
            {
                r.target
                for r in results
                if r.name == "sessions_revoked" and r.verdict == verification.PASSED
            }
        )
    )


def _bound(uow: UnitOfWork, cases: Iterable[Case]) -> dict[str, tuple[Authenticator, ...]]:
    """The active authenticators of the subjects whose cases check ``mfa_bound``
    or (a reissue) ``factors_removed``."""
    wanted = {
        c.subject_id
        for c in cases
        if {"mfa_bound", "factors_removed"} & set(c.requirements.post_checks)
    }
    return {s: tuple(uow.authenticators.active(s)) for s in sorted(wanted)}


class Worker:
    def __init__(self, svc: Services, *, owner: str | None = None) -> None:
        self.svc = svc
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.cfg = svc.settings.worker
        self._passes = 0
        self._chores_at: float | None = None  # monotonic time of the last chores
        self._anomalies = AnomalyPass()
        self._leases = LeaseKeeper(svc, self.owner, timedelta(seconds=self.cfg.lease_s))
        # Threads for connector calls, kept for the worker's life: writes on one
        # pool (at most ``parallelism`` at a time), checks on another, so the
        # checks of one batch never queue behind the writes of the next.
        self._writers = ThreadPoolExecutor(max(1, self.cfg.parallelism), "custos-write")
        self._checkers = ThreadPoolExecutor(max(1, self.cfg.parallelism), "custos-check")

    def close(self) -> None:
        """Stop the worker's threads (after the calls in flight)."""
        self._writers.shutdown()
        self._checkers.shutdown()

    # -- loop ----------------------------------------------------------------------
    def run_forever(
        self, stop: threading.Event, on_pass: Callable[[int], None] | None = None
    ) -> None:
        """Passes until ``stop`` is set, pipelined: while the writes of one batch
        are in flight, the previous batch is recorded and verified, so the
        directories never wait for the database (or the other way round). On
        ``stop`` the batch in flight is still recorded before returning."""
        ahead = ThreadPoolExecutor(1, "custos-batch")
        # Leases renewed while their receipts are in this worker's hands, so a
        # slow pass never lets another worker write the same secret again.
        keeper_stop = threading.Event()
        keeper = threading.Thread(
            target=self._leases.run, args=(keeper_stop,), name="custos-leases", daemon=True
        )
        keeper.start()
        # Batches written or being written, oldest first; a batch leaves only once
        # its recording was tried, so a pass that fails early loses none.
        pending: deque[Future[Batch]] = deque()
        try:
            busy = False
            while not stop.is_set():
                done = 0
                try:
                    done = self._housekeeping(chores=self._chores_due(busy))
                    receipts = self.claim()
                    if receipts:
                        pending.append(ahead.submit(self._attempt_all, receipts))
                    done += len(receipts)
                    # Record every batch but the one just sent off (it is in flight).
                    while len(pending) > (1 if receipts else 0):
                        done += self._finish_next(pending)
                    done += self._tail(busy=bool(pending))
                except Exception:  # a bad pass must not kill the worker; the next retries
                    log.exception("worker_pass_failed")
                if on_pass is not None:
                    on_pass(done)
                busy = done > 0
                if not busy:
                    stop.wait(self.cfg.poll_interval_s)
            while pending:
                try:
                    self._finish_next(pending)
                except Exception:
                    log.exception("worker_pass_failed")
        finally:
            keeper_stop.set()
            ahead.shutdown()

    def _finish_next(self, pending: deque[Future[Batch]]) -> int:
        """Record the oldest pending batch (waiting for its writes); returns its
        size. Should recording fail, its receipts keep their lease until it
        runs out and are attempted again then (the same secret, so harmless)."""
        written = pending.popleft().result()
        self._finish(written)
        return len(written.outcomes)

    def run_once(self) -> int:
        """One pass, done when it returns; returns how many units of work it did."""
        done = self._housekeeping()
        receipts = self.claim()
        if receipts:
            self._finish(self._attempt_all(receipts))
        done += len(receipts)
        return done + self._tail(busy=bool(receipts))

    def _chores_due(self, busy: bool) -> bool:
        """Whether this pass runs the time-driven chores: always after an idle
        pass, else once :data:`CHORES_EVERY_S` passed since they last ran."""
        now = time.monotonic()
        if busy and self._chores_at is not None and now - self._chores_at < CHORES_EVERY_S:
            return False
        self._chores_at = now
        return True

    def _housekeeping(self, *, chores: bool = True) -> int:
        """What runs before each pass's claim, in this order: the work callers
        wait for (flows, notices, shared signals, campaigns) every time; the
        time-driven rest only with ``chores``."""
        steps: tuple[tuple[Callable[[], int], bool], ...] = (
            (lambda: sweep_pending_flows(self.svc), False),
            (self.expire_cases, True),
            (lambda: end_due_holds(self.svc), True),
            (lambda: deliver_due(self.svc), False),
            (lambda: shared_signals.deliver_due(self.svc), False),
            (self._sync_if_due, True),
            (lambda: wipe_lapsed_owner_links(self.svc), True),
            (lambda: close_refusal_windows(self.svc), True),
            (self._service_accounts, True),
            (lambda: run_campaigns(self.svc), False),
            (lambda: self._anomalies.run_if_due(self.svc), True),
            (lambda: expire_due_exceptions(self.svc), True),
            (lambda: tap_issue.clean_up(self.svc), True),
        )
        return sum(step() for step, chore in steps if chores or not chore)

    def _service_accounts(self) -> int:
        """Old credentials past their grace period revoked (R-40), lapsed
        retrieval links wiped, and rotation cases opened for credentials past
        their tier's max_age (at most every ``ROTATION_CHECK_S``, one worker)."""
        done = graces.revoke_due(self.svc) + issuing.wipe_lapsed(self.svc)
        if claim_run(
            self.svc.engine,
            ROTATION_SCHEDULE,
            now=self.svc.clock.now(),
            interval_s=ROTATION_CHECK_S,
            owner=self.owner,
        ):
            done += len(schedule.open_due_rotations(self.svc))
        return done

    def _sync_if_due(self) -> int:
        """``subjects sync`` every ``worker.sync_interval_s`` (never when unset),
        as :data:`SYNC_ACTOR`. The last run is claimed in the database, so of
        several workers only one syncs in a given interval."""
        interval = self.cfg.sync_interval_s
        if interval is None or not claim_run(
            self.svc.engine,
            SYNC_SCHEDULE,
            now=self.svc.clock.now(),
            interval_s=interval,
            owner=self.owner,
        ):
            return 0
        report = sync_subjects(self.svc, actor=SYNC_ACTOR)
        return len(report.created) + len(report.changed) + len(report.linked)

    def _finish(self, batch: Batch) -> None:
        self._verify_all(self._record_all(batch))

    def _tail(self, *, busy: bool) -> int:
        done = 0
        self._passes += 1
        if not busy or self._passes % SWEEP_EVERY == 0:
            # Receipts conclude their own cases; this sweep only catches cases a
            # dead worker left between two steps.
            done += self.advance_cases()
        done += export_due(self.svc)
        return done + sign_tree_head_if_due(self.svc)

    # -- expiry --------------------------------------------------------------------
    def expire_cases(self) -> int:
        now = self.svc.clock.now()
        with self.svc.uow(read_only=True) as uow:
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
        self._leases.hold((r.id for r in claimed), now)
        return claimed

    def _attempt_all(self, receipts: list[Receipt]) -> Batch:
        """Write every claimed receipt's secret to its target, in parallel threads
        (the secrets are read in one query and unsealed only for the call), then
        read the new change times back from every target that reads many
        accounts at once, so the batch can be verified as it is recorded."""
        with self.svc.uow(read_only=True) as uow:
            sealed = uow.secrets.get_many({r.case_id for r in receipts})
            actions = uow.cases.actions_of(r.case_id for r in receipts)

        def one(receipt: Receipt) -> Outcome_:
            if not self._leases.still_held(receipt.id):
                # Another worker took it over: its write is the one that counts.
                return Outcome_(receipt, LeaseLost("lease lost; not written"), "")
            action = actions.get(receipt.case_id)
            if action == CredentialAction.ROTATE and graces.keeps_previous(
                self.svc, receipt.target
            ):
                error, answer = graces.write_keeping_previous(
                    self.svc, receipt, sealed.get(receipt.case_id)
                )
                return Outcome_(receipt, error, answer, rotation=True)
            if action == CredentialAction.REVOKE_SESSIONS:
                error, answer = self._revoke_only(receipt)
                return Outcome_(receipt, error, answer)
            reissue = action == CredentialAction.REISSUE
            error, answer = self._write(receipt, sealed.get(receipt.case_id), reissue=reissue)
            return Outcome_(receipt, error, answer, rotation=action == CredentialAction.ROTATE)

        self._prepare_writes(receipts)
        if len(receipts) > 1 and self.cfg.parallelism > 1:
            outcomes = list(self._writers.map(one, receipts))
        else:
            outcomes = [one(r) for r in receipts]
        written = _written(outcomes)
        return Batch(
            outcomes, verification.read_back_many(self.svc.registry, written, self._checkers)
        )

    def _prepare_writes(self, receipts: list[Receipt]) -> None:
        """Let each target that can look many accounts up at once do so before the
        writes (LDAP: the DNs, in one search per chunk instead of one per write)."""
        for name, ids in verification.accounts_by_target(receipts).items():
            if len(ids) > 1 and self.svc.registry.offers(name, "prepare_writes"):
                connector = self.svc.registry.get(name).connector
                assert isinstance(connector, PrepareWritesOp)
                connector.prepare_writes(sorted(ids))

    def attempt(self, receipt: Receipt) -> None:
        """Set the secret on one target account, record the answer, and conclude
        and verify its case when it was the last receipt."""
        self._finish(self._attempt_all([receipt]))

    def _write(
        self, receipt: Receipt, sealed: tuple[bytes, bool] | None, *, reissue: bool = False
    ) -> tuple[ConnectorError | None, str]:
        """Write the case's secret to one account; for a reissue, also remove
        the account's second factors where the target can (the
        ``factors_removed`` check reads back that none remain)."""
        error, answer = self._write_secret(receipt, sealed)
        if error is not None or not reissue:
            return error, answer
        if not self.svc.registry.offers(receipt.target, "reset_factors"):
            return None, answer
        connector = self.svc.registry.get(receipt.target).connector
        assert isinstance(connector, ResetFactorsOp)
        try:
            removed = connector.reset_factors(receipt.account_id)
        except ConnectorError as exc:
            return exc, ""
        # The tier's Temporary Access Pass, where the target issues one.
        tap_error, tap_answer = tap_issue.issue_after_reset(self.svc, receipt)
        if tap_error is not None:
            return tap_error, ""
        return None, f"{answer}; reissue: {removed} second factor(s) removed{tap_answer}"

    def _write_secret(
        self, receipt: Receipt, sealed: tuple[bytes, bool] | None
    ) -> tuple[ConnectorError | None, str]:
        if sealed is None:
            return ConnectorError("the case holds no secret any more (wiped or cancelled)"), ""
        blob, must_change = sealed
        try:
            if verification.holds_sessions_only(self.svc.registry, receipt.target):
                return None, self._contain(receipt)
            connector = self.svc.registry.operation(receipt.target, "set_password")
            assert isinstance(connector, SetPasswordOp)
            if must_change:
                # A temporary password that the target cannot force to be
                # changed would become a durable one: refuse, never downgrade.
                self.svc.registry.operation(receipt.target, "force_change")
            password = self.svc.sealer.unseal(blob, aad=seal_contexts.case_secret(receipt.case_id))
            answer = connector.set_password(receipt.account_id, password, must_change=must_change)
            del password
            return None, answer
        except ConnectorError as exc:
            return exc, ""
        except DomainError as exc:  # e.g. the secret does not unseal: never retryable
            return ConnectorError(exc.message), ""

    def _revoke_only(self, receipt: Receipt) -> tuple[ConnectorError | None, str]:
        """An incident campaign's ``revoke_sessions`` (docs/campaigns.md): end
        the account's sessions where its target holds any; no password moves."""
        if not self.svc.registry.offers(receipt.target, "revoke_sessions"):
            return None, "holds no sessions Custos can end; nothing changed"
        try:
            connector = self.svc.registry.operation(receipt.target, "revoke_sessions")
            assert isinstance(connector, RevokeSessionsOp)
            return None, f"{connector.revoke_sessions(receipt.account_id)} session(s) ended"
        except ConnectorError as exc:
            return exc, ""

    def _contain(self, receipt: Receipt) -> str:
        """A target that holds sessions but no password (an SSO portal): the
        change there is ending the account's sessions, right away; the
        ``sessions_revoked`` check ends (and reads back) them again."""
        connector = self.svc.registry.operation(receipt.target, "revoke_sessions")
        assert isinstance(connector, RevokeSessionsOp)
        ended = connector.revoke_sessions(receipt.account_id)
        return f"holds no password: {ended} session(s) ended"

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

    def _record_all(self, batch: Batch) -> list[str]:
        """Record every outcome in ONE transaction: the receipts (only while this
        worker still holds their lease), one ledger event each, the conclusion of
        every case whose receipts are now all final, and the checks of those that
        moved to verifying when the batch's read-backs settle them all. Returns
        the cases left in verifying (their checks still need the targets)."""
        outcomes = batch.outcomes
        now = self.svc.clock.now()
        by_case: dict[str, list[tuple[Outcome_, ReceiptState, datetime | None]]] = {}
        attempts: list[Attempt] = []
        for outcome in outcomes:
            state, next_at = self._next_state(outcome.receipt, outcome.error, now)
            error = outcome.error
            attempts.append(
                Attempt(
                    outcome.receipt.id,
                    state,
                    answer=error.answer if error else outcome.answer,
                    error=type(error).__name__ if error else None,
                    next_attempt_at=next_at,
                )
            )
            by_case.setdefault(outcome.receipt.case_id, []).append((outcome, state, next_at))
        verifying: list[str] = []
        handover = None
        with self.svc.uow() as uow:
            kept = uow.receipts.record_many(self.owner, attempts, now=now)
            # Results whose lease ran out belong to the worker that took over.
            by_case = {
                case_id: held
                for case_id, items in by_case.items()
                if (held := [item for item in items if item[0].receipt.id in kept])
            }
            # Every case row is locked (in id order, as every worker does) before
            # the ledger append takes the ledger's own lock: never the reverse.
            locked = uow.cases.get_many(by_case, for_update=True)
            # Every receipt of each case as this transaction sees it: those the
            # batch just wrote from memory, read only where others exist.
            receipts = uow.receipts.for_cases_after(
                locked,
                (
                    as_recorded(o.receipt, a, now=now)
                    for o, a in zip(outcomes, attempts, strict=True)
                    if a.receipt_id in kept
                ),
            )
            for case_id, case in locked.items():
                for outcome, state, next_at in by_case[case_id]:
                    self._emit_receipt(case, outcome, state, next_at, now)
                    if outcome.rotation and outcome.error is None:
                        graces.record_write(self.svc, uow, case, outcome.receipt, now)
                if self._conclude(case, receipts[case_id], now) == CaseState.VERIFYING:
                    verifying.append(case_id)
            settled = self._checks_at_hand(uow, batch, [locked[c] for c in verifying], receipts)
            if settled:
                handover = self._conclude_checks(uow, [locked[c] for c in settled], settled, now)
                verifying = [c for c in verifying if c not in settled]
            uow.cases.save_many(list(locked.values()))
            uow.commit()
        self._leases.release(o.receipt.id for o in outcomes)
        for case_id, recorded in by_case.items():
            for outcome, state, _ in recorded:
                log.info(
                    "receipt_recorded",
                    case=case_id,
                    target=outcome.receipt.target,
                    state=str(state),
                    attempt=outcome.receipt.attempts + 1,
                )
        if handover is not None:
            deliver_handover(self.svc, handover)  # after the commit, never inside it
        return verifying

    def _checks_at_hand(
        self,
        uow: UnitOfWork,
        batch: Batch,
        verifying: list[Case],
        receipts: dict[str, list[Receipt]],
    ) -> dict[str, list[verification.CheckResult]]:
        """The check results of those ``verifying`` cases whose every check can be
        judged from the batch's read-backs without calling a target again."""
        if not verifying or not batch.read_back:
            return {}
        redeemed = uow.tokens.redeemed_at_many(case.id for case in verifying)
        bound = _bound(uow, verifying)
        written = batch.written()
        settled: dict[str, list[verification.CheckResult]] = {}
        for case in verifying:
            item = _case_checks(case, receipts[case.id], redeemed, bound)
            if any(r.account_id not in written.get(r.target, ()) for r in item.receipts):
                continue  # read back (or written) in another batch: checked the usual way
            results = verification.judge_now(self.svc.registry, item, batch.read_back)
            if results is not None:
                settled[case.id] = results
        return settled

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
        with self.svc.uow(read_only=True) as uow:
            executing = uow.cases.ids_in_states({CaseState.EXECUTING})
            verifying = uow.cases.ids_in_states({CaseState.VERIFYING})
        moved = 0
        for case_id in executing:
            moved += self._finish_propagation(case_id)
        return moved + self._verify_all(verifying)

    def _finish_propagation(self, case_id: str) -> int:
        """Conclude a case whose receipts all became final without its worker
        concluding it (that worker died in between)."""
        now = self.svc.clock.now()
        with self.svc.uow() as uow:
            case = uow.cases.get(case_id, for_update=True)
            concluded = self._conclude(case, uow.receipts.for_case(case_id), now)
            if concluded is None:
                return 0
            try:
                uow.cases.save(case)
            except ConcurrentUpdate:
                return 0
            uow.commit()
        return 1

    @staticmethod
    def _conclude(case: Case, receipts: list[Receipt], now: datetime) -> CaseState | None:
        """When every receipt (``receipts``, as this transaction sees them) of an
        executing case is final, move it to verifying (all required ones
        succeeded) or needs_attention (naming the failures). Returns the new
        state, or None when the case is not ready."""
        if case.state != CaseState.EXECUTING:
            return None
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

    def _verify_all(self, case_ids: list[str]) -> int:
        """Run the tiers' post-recovery checks for these cases: read what they
        need in one transaction, run the checks outside any transaction (batched
        per target where it can read back many accounts at once), record
        everything in one more. Returns how many concluded."""
        if not case_ids:
            return 0
        with self.svc.uow(read_only=True) as uow:
            loaded = uow.cases.get_many(case_ids)
            receipts = uow.receipts.for_cases(loaded)
            redeemed = uow.tokens.redeemed_at_many(loaded)
            bound = _bound(uow, loaded.values())
        work = [_case_checks(case, receipts[case.id], redeemed, bound) for case in loaded.values()]
        results = verification.run_checks_many(self.svc.registry, work, pool=self._checkers)
        now = self.svc.clock.now()
        with self.svc.uow() as uow:
            locked = uow.cases.get_many(results, for_update=True)  # before any ledger append
            verifying = [case for case in locked.values() if case.state == CaseState.VERIFYING]
            handover = self._conclude_checks(uow, verifying, results, now)
            uow.cases.save_many(verifying)
            uow.commit()
        deliver_handover(self.svc, handover)  # after the commit, never inside it
        return len(verifying)

    def _conclude_checks(
        self,
        uow: UnitOfWork,
        verifying: list[Case],
        results: dict[str, list[verification.CheckResult]],
        now: datetime,
    ) -> outbox.Handover:
        """Record the checks of these verifying cases and move each on: completed
        (its secret wiped, its subject told, R-22) or needs_attention. Returns
        the recovery notices, held leased to this worker: it sends them once
        ``uow`` committed (``deliver_handover``), never inside it."""
        uow.receipts.add_checks(
            [
                CheckRow(case.id, r.name, r.target, r.account_id, r.passed, r.detail, r.verdict)
                for case in verifying
                for r in results[case.id]
            ],
            now=now,
        )
        completed: list[Case] = []
        for case in verifying:
            for result in results[case.id]:
                case.emit(
                    EventType.CHECK_PASSED if result.passed else EventType.CHECK_FAILED,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    outcome=Outcome.SUCCESS if result.passed else Outcome.FAILURE,
                    reason=result.detail,
                    # Where it ran and what it saw, so the ledger alone (and the
                    # evidence pack) shows every check, not only its name.
                    data={
                        "check": result.name,
                        "target": result.target,
                        "account": result.account_id,
                        "verdict": result.verdict,
                        "optional": result.optional,
                        "saw": result.detail,
                    },
                )
            failed = [r for r in results[case.id] if not r.passed]
            if failed:
                case.move(
                    CaseState.NEEDS_ATTENTION,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    reason="post-recovery check failed: "
                    + "; ".join(f"{r.name} on {r.target}: {r.detail}" for r in failed),
                )
                continue
            skipped = sorted(
                {r.name for r in results[case.id] if r.verdict == verification.NOT_APPLICABLE}
            )
            case.validated(
                at=now,
                by="system:post_checks",
                checks=sorted({r.name for r in results[case.id]}),
                reason="post-recovery checks passed"
                + (f" (not applicable, optional: {', '.join(skipped)})" if skipped else ""),
            )
            completed.append(case)
        for case in completed:
            if case.channel == Channel.HELPDESK:
                # an agent helped; the subject's next sign-in must bind a
                # phishing-resistant authenticator before anything else.
                subject_sessions.require_bind(uow, case.subject_id, now=now, case_id=case.id)
        wiped = uow.secrets.wipe_many(case.id for case in completed)
        for case in completed:
            if case.id in wiped:
                case.emit(EventType.SECRET_WIPED, at=now, actor=SYSTEM_ACTOR)
        subjects = uow.subjects.get_many(case.subject_id for case in completed)
        handover = notices.hold_recoveries(  # sent after the commit, never inside it
            self.svc,
            uow,
            [
                (case, subjects[case.subject_id])
                for case in completed
                if case.subject_id in subjects
            ],
            event="completed",
            now=now,
        )
        # relying parties hear of it through their shared-signals streams,
        # from the outbox once this commits.
        signal_recoveries(
            self.svc,
            uow,
            [
                Recovered(case, subjects[case.subject_id], _sessions_ended(results[case.id]))
                for case in completed
                if case.subject_id in subjects
            ],
            now=now,
        )
        return handover
