"""``custos restore SRC``: put a backup back, then prove the ledger continues.

1. Check the backup: its copy matches the manifest, the backend is this one,
   the schema is one this Custos knows, and the sealing keys its values name
   are in the ring (``restore_keys_missing`` otherwise, naming them).
2. Compare with what was seen (``continuity``): a restore that ends the ledger
   before a seen head is refused (``restore_rollback``) unless forced, saying
   how many entries and which cases would be lost.
3. Save the current database beside the data folder (``pre-restore-<time>``).
4. Replace the database (SQLite backup API, or ``pg_restore`` into the emptied
   schema) and migrate it to this version.
5. Check the restored ledger is the manifest's (size and root) and the history
   every seen head signed (``restore_forks_ledger`` otherwise); on a refusal
   the saved database is put back.
6. Record ``admin:database:restored``, sign a new head, prove it consistent
   with the last head signed before the backup (and the last seen one), and
   run ``audit verify``.

Stop API and workers first: nothing else may write the database meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from custos.domain.errors import DomainError
from custos.domain.events import DomainEvent, EventType, utc
from custos.ledger.audit import audit_ledger
from custos.ledger.heads import key_ring, sign_tree_head
from custos.ledger.signing import NoLedgerKey, TreeHead
from custos.ledger.verify import VerificationReport
from custos.service.backup import continuity
from custos.service.backup import manifest as manifests
from custos.service.backup.backup import Progress, make_backup
from custos.service.backup.continuity import Consistency, Loss
from custos.service.backup.manifest import BackupInvalid, Facts, Manifest, read_facts
from custos.service.ports import Services
from custos.store import backup_postgres, backup_sqlite
from custos.store.database import is_sqlite, known_revisions, upgrade
from custos.store.schema import metadata


class RestoreRefused(DomainError):
    error_id = "restore_refused"


class RestoreRollback(RestoreRefused):
    """The backup ends the ledger before a head that was seen."""

    error_id = "restore_rollback"


class RestoreForksLedger(RestoreRefused):
    """The backup's ledger is not the history the seen heads signed."""

    error_id = "restore_forks_ledger"


class RestoreKeysMissing(RestoreRefused):
    """The backup holds values sealed under keys the ring does not hold."""

    error_id = "restore_keys_missing"


@dataclass
class RestoreReport:
    source: str
    manifest: Manifest
    forced: bool
    safety_copy: str | None
    loss: Loss | None
    restored: Facts
    reinserted_heads: int
    head_after: TreeHead | None
    proofs: list[Consistency] = field(default_factory=list)
    audit: VerificationReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.proofs) and (self.audit is None or self.audit.ok)


def restore_backup(
    svc: Services,
    source: Path,
    *,
    force: bool = False,
    actor: str = "cli:local",
    progress: Progress | None = None,
) -> RestoreReport:
    """Restore the backup in folder ``source`` (see the module docstring).
    Raises BackupInvalid, RestoreRollback, RestoreKeysMissing or
    RestoreForksLedger (the last three unless ``force``), PgToolMissing or
    PgToolFailed; after a refusal or failure past step 3 the database is as
    it was before."""
    manifest = manifests.read(source)
    _check_compatible(svc, manifest)
    missing = _missing_keys(svc, manifest)
    if missing and not force:
        raise RestoreKeysMissing(_keys_message(svc, missing), key_ids=missing)
    current = _current(svc)
    with svc.uow(read_only=True) as uow:
        conn = uow.conn if current is not None else None
        seen, unreadable = continuity.seen_heads(svc.settings, conn)
        loss = continuity.loss_of(conn, manifest.facts.ledger_size, seen)
    if loss is not None and loss.witnessed is not None and not force:
        raise RestoreRollback(
            f"refused: {loss.describe()}. Give --force to restore anyway: the loss is "
            "recorded in the ledger, and a witness file keeps the heads past the backup, "
            "which 'audit verify' then reports",
            loss=loss.to_json(),
        )
    safety = _safety_copy(svc, current, progress)
    _put_back(svc, source, manifest, progress)
    try:
        restored, reinserted = _check_restored(svc, manifest, seen, force)
    except DomainError:
        if safety is not None:
            _put_back(svc, safety, manifests.read(safety), progress)
        raise
    report = RestoreReport(
        source=str(source),
        manifest=manifest,
        forced=force,
        safety_copy=None if safety is None else str(safety),
        loss=loss,
        restored=restored,
        reinserted_heads=reinserted,
        head_after=None,
    )
    report.notes += unreadable
    if missing:
        report.notes.append(
            f"values sealed under key(s) {', '.join(missing)} will not open until those "
            "keys are in the ring"
        )
    _record(svc, report, actor)
    _prove(svc, report, seen)
    report.audit = audit_ledger(
        svc,
        actor=actor,
        progress=None if progress is None else lambda d, t: progress("verifying ledger", d, t),
    )
    return report


# -- checks before anything changes --------------------------------------------------


def _check_compatible(svc: Services, manifest: Manifest) -> None:
    backend = "sqlite" if is_sqlite(svc.engine) else "postgresql"
    if manifest.backend != backend:
        raise BackupInvalid(
            f"the backup is of a {manifest.backend} database; this deployment uses {backend}"
        )
    unknown = set(manifest.facts.schema_revisions) - known_revisions()
    if unknown:
        raise BackupInvalid(
            f"the backup's schema is at revision(s) {sorted(unknown)}, which this version of "
            "Custos does not know: restore it with the version that made it"
        )
    if not manifest.facts.schema_revisions:
        raise BackupInvalid("the backup holds no Custos schema (no alembic_version)")
    if backend == "postgresql":
        backup_postgres.tool("pg_restore")
        with svc.engine.connect() as conn:
            schema = backup_postgres.current_schema(conn)
        if manifest.schema != schema:
            raise BackupInvalid(
                f"the backup holds schema '{manifest.schema}', this database uses '{schema}' "
                "(search_path): restore into a database whose schema has the backup's name"
            )


def _missing_keys(svc: Services, manifest: Manifest) -> list[str]:
    ring = svc.key.current()
    return sorted(
        k for k in manifest.facts.sealing_key_ids if k != "legacy" and ring.opening(k) is None
    )


def _keys_message(svc: Services, missing: list[str]) -> str:
    folder = svc.settings.effective_key_file.parent
    kept = sorted(str(p) for k in missing for p in folder.glob("*.retired-*") if _ring_holds(p, k))
    where = (
        f"; the ring(s) kept by a rotation that hold them: {', '.join(kept)}"
        if kept
        else "; no ring kept beside the key file holds them"
    )
    return (
        f"the backup holds values sealed under key(s) {', '.join(missing)}, which the "
        f"sealing key ring does not hold{where}. Put that ring back as the key store "
        "(the backup predates a rotation), restore, then rotate again; or give --force "
        "to restore anyway (those values will not open)"
    )


def _ring_holds(path: Path, key_id: str) -> bool:
    from custos.keystore.file_store import FileKeyStore

    try:
        return key_id in FileKeyStore(path).load().key_ids
    except DomainError:
        return False


def _current(svc: Services) -> Facts | None:
    """The current database's facts, or None when it holds no Custos schema or
    cannot be read (a restore into an empty or broken database)."""
    try:
        with svc.uow(read_only=True) as uow:
            facts = read_facts(uow.conn)
    except Exception:
        return None
    return facts if facts.schema_revisions else None


def _safety_copy(svc: Services, current: Facts | None, progress: Progress | None) -> Path | None:
    if current is None:
        return None
    stamp = utc(svc.clock.now()).replace(":", "").replace(".", "-")
    folder = svc.settings.data_dir / f"pre-restore-{stamp}"
    phase = None if progress is None else (lambda _w, d, t: progress("saving current", d, t))
    make_backup(svc, folder, progress=phase, sign_head=False, record=False)
    return folder


# -- replacing the database ----------------------------------------------------------


def _put_back(svc: Services, folder: Path, manifest: Manifest, progress: Progress | None) -> None:
    copy = folder / manifest.file
    svc.engine.dispose()
    if manifest.backend == "sqlite":
        target = backup_sqlite.database_path(svc.settings.effective_database_url)
        backup_sqlite.copy_in(
            copy, target, None if progress is None else lambda d, t: progress("restoring", d, t)
        )
    else:
        _pg_put_back(svc, copy, manifest, progress)
    svc.engine.dispose()
    upgrade(svc.engine)


def _pg_put_back(svc: Services, copy: Path, manifest: Manifest, progress: Progress | None) -> None:
    with svc.engine.connect() as conn:
        schema = backup_postgres.current_schema(conn)
    quoted = svc.engine.dialect.identifier_preparer.quote_schema(schema)
    with svc.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Another process holding a lock (API, worker) makes this wait: fail instead.
        conn.execute(text("SET lock_timeout = '15s'"))
        conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
    svc.engine.dispose()
    backup_postgres.restore(
        svc.settings.effective_database_url,
        copy,
        tables=len(metadata.tables) + 1,
        progress=None if progress is None else lambda d, t: progress("restoring", d, t),
    )


# -- checks after -----------------------------------------------------------------


def _check_restored(
    svc: Services, manifest: Manifest, seen: list[TreeHead], force: bool
) -> tuple[Facts, int]:
    expected = manifest.facts
    with svc.uow() as uow:
        restored = read_facts(uow.conn)
        if (restored.ledger_size, restored.ledger_root) != (
            expected.ledger_size,
            expected.ledger_root,
        ) or (restored.cases, restored.receipts) != (expected.cases, expected.receipts):
            raise BackupInvalid(
                "the restored database is not the one the manifest describes "
                f"(ledger {restored.ledger_size} entries, root {restored.ledger_root[:16]}...; "
                f"expected {expected.ledger_size}, {expected.ledger_root[:16]}...)"
            )
        forked = continuity.forks(uow.conn, seen, restored.ledger_size)
        if forked and not force:
            first = forked[0]
            raise RestoreForksLedger(
                f"refused: the backup's ledger is not the history seen heads signed (the "
                f"head at size {first.tree_size} signed {first.signed_at} has another root; "
                f"{len(forked)} head(s) differ). The database was put back as it was; give "
                "--force to restore anyway",
                sizes=[h.tree_size for h in forked],
            )
        reinserted = continuity.restore_missing_heads(uow.conn, seen, restored.ledger_size)
        uow.commit()
    return restored, reinserted


def _record(svc: Services, report: RestoreReport, actor: str) -> None:
    m = report.manifest
    data: dict[str, Any] = {
        "source": report.source,
        "backup_created_at": m.created_at,
        "sha256": m.sha256,
        "ledger_size": m.facts.ledger_size,
        "ledger_root": m.facts.ledger_root,
        "head_size": None if m.facts.head is None else m.facts.head["tree_size"],
        "forced": report.forced,
        "lost": None if report.loss is None else report.loss.to_json(),
        "safety_copy": report.safety_copy,
        "reinserted_heads": report.reinserted_heads,
    }
    with svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.DATABASE_RESTORED,
                    occurred_at=svc.clock.now(),
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    reason="forced past a seen head"
                    if report.forced and report.loss and report.loss.witnessed
                    else "",
                    data=data,
                )
            ]
        )
        uow.commit()


def _prove(svc: Services, report: RestoreReport, seen: list[TreeHead]) -> None:
    try:
        report.head_after = sign_tree_head(svc)
    except NoLedgerKey:
        report.notes.append("no ledger signing key: no head signed, no consistency proof")
        return
    keys = key_ring(svc).public_keys()
    before = report.manifest.facts.tree_head
    last_seen = max(
        (h for h in seen if 0 < h.tree_size <= report.restored.ledger_size),
        key=lambda h: h.tree_size,
        default=None,
    )
    with svc.uow(read_only=True) as uow:
        if before is not None:
            report.proofs.append(
                continuity.prove(
                    uow.conn, "last head signed before the backup", before, report.head_after, keys
                )
            )
        else:
            report.notes.append("the backup holds no signed head: nothing to prove from")
        if last_seen is not None and (before is None or last_seen.signature != before.signature):
            report.proofs.append(
                continuity.prove(
                    uow.conn,
                    "last head seen before the restore",
                    last_seen,
                    report.head_after,
                    keys,
                )
            )
