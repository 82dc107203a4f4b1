"""A worker's leases kept while their receipts are in its hands.

A receipt is claimed with a lease (``worker.lease_s``); a worker that dies
loses it and another worker takes the receipt over. A worker that is alive but
slow (a busy machine, a long pass) must not lose it the same way: the other
worker would write the same secret to the directory a second time while the
first one's write is already there, and the first one's result would be
dropped. So, from the claim until the result is recorded, a keeper thread
renews the lease every third of its length, and the worker writes a receipt
only while it still holds its lease: one whose lease ran out locally is
renewed first (if nobody else took it) or left alone (if somebody did).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

import structlog

from custos.service.ports import Services

log = structlog.get_logger("custos.worker")


class LeaseKeeper:
    def __init__(self, svc: Services, owner: str, lease: timedelta) -> None:
        self._svc = svc
        self._owner = owner
        self._lease = lease
        self._lock = threading.Lock()
        #: Receipt id -> when its lease runs out, as this worker last set it.
        self._held: dict[int, datetime] = {}
        self._lost: set[int] = set()

    @property
    def interval_s(self) -> float:
        return max(0.5, self._lease.total_seconds() / 3)

    def hold(self, ids: Iterable[int], now: datetime) -> None:
        """Receipts just claimed, with the lease the claim set."""
        with self._lock:
            for receipt_id in ids:
                self._held[receipt_id] = now + self._lease
                self._lost.discard(receipt_id)

    def release(self, ids: Iterable[int]) -> None:
        """Receipts whose result was recorded (or dropped): no longer renewed."""
        with self._lock:
            for receipt_id in ids:
                self._held.pop(receipt_id, None)
                self._lost.discard(receipt_id)

    def held(self) -> list[int]:
        with self._lock:
            return sorted(self._held)

    def still_held(self, receipt_id: int) -> bool:
        """Whether this worker may write ``receipt_id`` now: not lost to another
        worker, and (when its lease ran out on this worker's clock) renewed
        first in the database."""
        with self._lock:
            if receipt_id in self._lost:
                return False
            until = self._held.get(receipt_id)
        if until is None:
            return False
        if self._svc.clock.now() < until:
            return True
        return receipt_id in self.renew([receipt_id])

    def renew(self, ids: list[int] | None = None) -> set[int]:
        """Extend the leases of ``ids`` (default: every receipt held) that this
        worker still owns; the others are marked lost. Returns the ids kept."""
        wanted = self.held() if ids is None else ids
        if not wanted:
            return set()
        now = self._svc.clock.now()
        with self._svc.uow() as uow:
            kept = uow.receipts.renew_leases(
                owner=self._owner, ids=wanted, now=now, lease=self._lease
            )
            uow.commit()
        with self._lock:
            for receipt_id in wanted:
                if receipt_id not in self._held:
                    continue  # recorded meanwhile
                if receipt_id in kept:
                    self._held[receipt_id] = now + self._lease
                else:
                    self._held.pop(receipt_id)
                    self._lost.add(receipt_id)
        lost = [i for i in wanted if i not in kept]
        if lost:
            log.warning("receipt_lease_lost", receipts=len(lost))
        return kept

    def run(self, stop: threading.Event) -> None:
        """Renew every ``interval_s`` until ``stop`` is set."""
        while not stop.wait(self.interval_s):
            try:
                self.renew()
            except Exception:  # a failed renewal is retried; the lease may run out
                log.exception("receipt_lease_renewal_failed")
