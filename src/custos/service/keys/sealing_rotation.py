"""``custos keys rotate-sealing``: a new sealing key, and every sealed value
re-sealed under it while API and workers keep serving.

1. Start: the ring in the key store is kept aside as it is (``keep_retired``,
   never deleted), then replaced by a ring where the new key seals and every old
   key still opens (MAC subkeys carried). Running processes notice the change
   within a second (``keystore.live``) and open values under either key.
2. Re-seal: each sealed column (``store.sealed_inventory``) is walked in key
   order, in batches; each batch re-seals with compare-and-swap and commits its
   cursor with it (``sealing_rotations``), so a rotation killed at any point
   resumes after its last batch when run again.
3. Sweep: values written under an old key while the pass ran (a process that
   had not yet noticed) are found by their key id and re-sealed; after a
   settling pause the count is taken once more.
4. Finish: only when no value is left under an old key, the old keys leave
   the ring. The ledger records the start (or resumption) and the end.

A value that opens under no key of the ring stops the rotation before the old
keys leave (``sealing_rotation_unreadable``), naming the rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from custos.credentials.keys import MasterKey
from custos.credentials.sealed import Sealer, SealError, prefix_of
from custos.credentials.sealing_keys import SealingKeys
from custos.domain.errors import DomainError
from custos.domain.events import DomainEvent, EventType
from custos.keystore.live import LiveKeys
from custos.service.ports import Services
from custos.store import sealed_inventory as inventory
from custos.store import sealing_rotation_repository as rotations
from custos.store.sealed_inventory import SealedColumn

#: ``(done, total)`` values re-sealed so far in this run.
Progress = Callable[[int, int], None]
#: Passes over every column before the rotation gives up on a process that keeps
#: sealing under an old key (it does not follow the key store).
MAX_PASSES = 5


class SealingRotationError(DomainError):
    error_id = "sealing_rotation_failed"


class SealingRotationMismatch(SealingRotationError):
    """The store's ring is not the one the rotation under way was started with."""

    error_id = "sealing_rotation_mismatch"


class SealingRotationUnreadable(SealingRotationError):
    """Values that open under no key of the ring: the old keys stay."""

    error_id = "sealing_rotation_unreadable"


@dataclass
class RotationReport:
    rotation_id: int
    new_key_id: str
    old_key_ids: list[str]
    retired_copy: str | None
    key_store: str
    resumed: bool
    finished: bool = False
    #: Per sealed column (``table.column``), re-sealed by this run.
    resealed: dict[str, int] = field(default_factory=dict)
    #: Values still under an old key when this run stopped.
    remaining: int = 0
    passes: int = 0


@dataclass(frozen=True, slots=True)
class _Options:
    batch: int
    max_batches: int | None
    pause_s: float
    settle_s: float
    progress: Progress | None
    between_batches: Callable[[], None] | None


class _Stopped(Exception):
    """``max_batches`` reached: the run ends, the rotation stays running."""


def rotate_sealing_key(
    svc: Services,
    live: LiveKeys,
    *,
    actor: str = "cli:local",
    batch: int = 200,
    max_batches: int | None = None,
    pause_s: float = 0.0,
    settle_s: float = 2.0,
    progress: Progress | None = None,
    between_batches: Callable[[], None] | None = None,
) -> RotationReport:
    """Start a rotation, or resume the one under way, and carry it as far as
    ``max_batches`` allows (None: to the end). Returns what this run did.

    Raises KeyStoreReadOnly (before anything changes) when the store cannot be
    written, SealingRotationMismatch when the store's ring does not match the
    rotation under way, SealingRotationUnreadable when values open under no
    key, SealingRotationError when values keep appearing under an old key."""
    if batch < 1:
        raise SealingRotationError("the batch size must be at least 1")
    report = _begin(svc, live, actor)
    options = _Options(batch, max_batches, pause_s, settle_s, progress, between_batches)
    try:
        _reseal_all(svc, live, report, options)
    except _Stopped:
        report.remaining = _remaining(svc, live)
        return report
    _finish(svc, live, report, actor)
    return report


# -- start or resume ---------------------------------------------------------------


def _begin(svc: Services, live: LiveKeys, actor: str) -> RotationReport:
    ring = live.refreshed()
    with svc.uow() as uow:
        under_way = rotations.running(uow.conn)
    if under_way is not None:
        if ring.primary.key_id == under_way.new_key_id:
            return _record_start(svc, live, actor, under_way, resumed=True)
        if ring.readable or ring.primary.key_id not in under_way.old_key_ids:
            raise SealingRotationMismatch(
                f"the rotation under way (#{under_way.id}) seals under key "
                f"{under_way.new_key_id}, but the key store ({live.store.description}) "
                f"seals under {ring.primary.key_id}: put back the ring it wrote, "
                "or the one kept at " + (under_way.retired_copy or "the start")
            )
        # Claimed, but the store never got the new ring (stopped in between): no
        # value can be sealed under a key no store held. Give it up, start afresh.
        with svc.uow() as uow:
            rotations.abandon(uow.conn, under_way.id, now=svc.clock.now())
            uow.commit()
    if ring.readable:  # a ring under rotation that no claim describes: carry it on
        started = _claim(svc, ring, retired_copy=None, actor=actor)
        return _record_start(svc, live, actor, started, resumed=False)
    # Keep the old ring first: a store Custos cannot write refuses here, before
    # anything changed; then claim (one rotation at a time), then switch the store.
    kept = live.store.keep_retired(ring)
    rotated = ring.rotated_to(MasterKey.generate())
    started = _claim(svc, rotated, retired_copy=kept, actor=actor)
    live.replace(rotated)
    return _record_start(svc, live, actor, started, resumed=False)


def _claim(
    svc: Services, ring: SealingKeys, *, retired_copy: str | None, actor: str
) -> rotations.Rotation:
    try:
        with svc.uow() as uow:
            started = rotations.start(
                uow.conn,
                new_key_id=ring.primary.key_id,
                old_key_ids=[k.key_id for k in ring.readable],
                retired_copy=retired_copy,
                by=actor,
                now=svc.clock.now(),
            )
            uow.commit()
    except IntegrityError:
        raise SealingRotationError(
            "another sealing-key rotation started at the same moment; let it run "
            "('custos keys status')"
        ) from None
    return started


def _record_start(
    svc: Services, live: LiveKeys, actor: str, rotation: rotations.Rotation, *, resumed: bool
) -> RotationReport:
    prefix = prefix_of(live.current().primary)
    with svc.uow() as uow:
        waiting = {
            col.name: inventory.count_not_under(uow.conn, col, prefix)
            for col in inventory.SEALED_COLUMNS
        }
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.SEALING_KEY_ROTATION_RESUMED
                    if resumed
                    else EventType.SEALING_KEY_ROTATION_STARTED,
                    occurred_at=svc.clock.now(),
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data={
                        "rotation": rotation.id,
                        "new_key_id": rotation.new_key_id,
                        "old_key_ids": rotation.old_key_ids,
                        "key_store": live.store.description,
                        "retired_copy": rotation.retired_copy,
                        "to_reseal": waiting,
                    },
                )
            ]
        )
        uow.commit()
    return RotationReport(
        rotation_id=rotation.id,
        new_key_id=rotation.new_key_id,
        old_key_ids=rotation.old_key_ids,
        retired_copy=rotation.retired_copy,
        key_store=live.store.description,
        resumed=resumed,
    )


# -- re-sealing ---------------------------------------------------------------------


def _reseal_all(svc: Services, live: LiveKeys, report: RotationReport, options: _Options) -> None:
    sealer = Sealer(live)
    batches = 0
    while True:
        report.passes += 1
        total = _remaining(svc, live)
        done = 0
        unreadable: list[str] = []
        for col in inventory.SEALED_COLUMNS:
            while True:
                if options.max_batches is not None and batches >= options.max_batches:
                    raise _Stopped
                count, finished = _one_batch(svc, live, sealer, col, report, options, unreadable)
                if finished:
                    break
                batches += 1
                done += count
                if options.progress is not None:
                    options.progress(done, max(total, done))
                if options.between_batches is not None:
                    options.between_batches()
                if options.pause_s:
                    time.sleep(options.pause_s)
        left = _remaining(svc, live)
        if left and left == len(unreadable):
            raise SealingRotationUnreadable(
                f"{left} sealed value(s) open under no key of the ring; the old keys "
                f"stay until they are dealt with: {', '.join(unreadable[:20])}",
                rows=unreadable,
            )
        if left == 0 and options.settle_s:
            # A process that had not yet noticed the new ring may still commit a
            # value sealed under an old key: wait, then look once more.
            time.sleep(options.settle_s)
            left = _remaining(svc, live)
        if left == 0:
            return
        if report.passes >= MAX_PASSES:
            raise SealingRotationError(
                f"{left} value(s) are still sealed under an old key after {MAX_PASSES} "
                "passes: some process does not follow the key store (restart API and "
                "workers), then run the rotation again"
            )
        _reset_cursors(svc, report)


def _one_batch(
    svc: Services,
    live: LiveKeys,
    sealer: Sealer,
    col: SealedColumn,
    report: RotationReport,
    options: _Options,
    unreadable: list[str],
) -> tuple[int, bool]:
    """Re-seal one batch of ``col``; returns (values re-sealed, column finished)."""
    prefix = prefix_of(live.current().primary)
    with svc.uow() as uow:
        state = rotations.running(uow.conn)
        assert state is not None and state.id == report.rotation_id
        cursor = state.cursors.get(col.name, {"after": None, "done": False})
        if cursor["done"]:
            return 0, True
        rows = inventory.not_under(
            uow.conn, col, prefix, after=cursor["after"], limit=options.batch
        )
        written = 0
        for row in rows:
            try:
                fresh = sealer.reseal(row.blob, aad=row.context)
            except SealError:
                unreadable.append(f"{col.name} {row.key}")
                continue
            if inventory.replace(uow.conn, col, row, fresh):
                written += 1
        cursors = {
            **state.cursors,
            col.name: {"after": rows[-1].key if rows else cursor["after"], "done": not rows},
        }
        resealed = {**state.resealed, col.name: state.resealed.get(col.name, 0) + written}
        rotations.save_progress(uow.conn, state.id, cursors=cursors, resealed=resealed)
        uow.commit()
    if written:
        report.resealed[col.name] = report.resealed.get(col.name, 0) + written
    return written, not rows


def _reset_cursors(svc: Services, report: RotationReport) -> None:
    with svc.uow() as uow:
        state = rotations.running(uow.conn)
        assert state is not None
        rotations.save_progress(uow.conn, state.id, cursors={}, resealed=state.resealed)
        uow.commit()


def _remaining(svc: Services, live: LiveKeys) -> int:
    prefix = prefix_of(live.current().primary)
    with svc.uow(read_only=True) as uow:
        return sum(
            inventory.count_not_under(uow.conn, col, prefix) for col in inventory.SEALED_COLUMNS
        )


# -- finish -------------------------------------------------------------------------


def _finish(svc: Services, live: LiveKeys, report: RotationReport, actor: str) -> None:
    ring: SealingKeys = live.current()
    retired = [k.key_id for k in ring.readable] or report.old_key_ids
    if ring.readable:
        live.replace(ring.without_readable())
    with svc.uow() as uow:
        state = rotations.running(uow.conn)
        assert state is not None
        rotations.finish(uow.conn, state.id, now=svc.clock.now())
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.SEALING_KEY_ROTATION_FINISHED,
                    occurred_at=svc.clock.now(),
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data={
                        "rotation": state.id,
                        "new_key_id": state.new_key_id,
                        "retired_key_ids": retired,
                        "resealed": state.resealed,
                        "retired_copy": state.retired_copy,
                        "key_store": live.store.description,
                    },
                )
            ]
        )
        uow.commit()
    report.finished = True
    report.remaining = 0
