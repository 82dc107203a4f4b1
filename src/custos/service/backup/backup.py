"""``custos backup DEST``: a consistent copy of the database while Custos keeps
serving, with a manifest (``backup.manifest``) and a ledger event.

Before copying, a tree head is signed (and published to the witnesses) when the
ledger grew since the last one: the manifest's head is then the last signed
head before the backup, the start of the consistency proof a restore makes.

SQLite: SQLite's online backup API, one snapshot. PostgreSQL: ``pg_dump`` of
the schema in use, reading a snapshot exported by a transaction that also
reads the manifest's facts, so both describe the same state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from custos.domain.errors import InvalidInput
from custos.domain.events import DomainEvent, EventType, utc
from custos.ledger.heads import latest_head, sign_tree_head
from custos.ledger.signing import NoLedgerKey
from custos.ledger.tree_store import StoredTree
from custos.service.backup import manifest as manifests
from custos.service.backup.manifest import FILES, Facts, Manifest, read_facts
from custos.service.ports import Services
from custos.store import backup_postgres, backup_sqlite
from custos.store.database import is_sqlite
from custos.store.schema import metadata

#: ``(what, done, total)``: a phase of the work and how far it got.
Progress = Callable[[str, int, int], None]


class BackupTargetInvalid(InvalidInput):
    error_id = "backup_target_invalid"


def make_backup(
    svc: Services,
    target: Path,
    *,
    actor: str = "cli:local",
    progress: Progress | None = None,
    sign_head: bool = True,
    record: bool = True,
) -> Manifest:
    """Back the database up into the new folder ``target`` (it must not exist,
    or be empty). ``sign_head``: sign and publish a head first when the ledger
    grew (skipped without a ledger key). ``record``: write the
    ``admin:database:backed_up`` event. Raises BackupTargetInvalid,
    PgToolMissing or PgToolFailed; a failed copy leaves no manifest."""
    _prepare(target)
    if sign_head:
        _sign_if_grown(svc)
    backend = "sqlite" if is_sqlite(svc.engine) else "postgresql"
    copy = target / FILES[backend]
    copier = _sqlite if backend == "sqlite" else _postgres
    facts, schema = copier(svc, copy, progress)
    sha, size = manifests.digest(copy)
    manifest = Manifest(
        created_at=utc(svc.clock.now()),
        backend=backend,
        file=copy.name,
        sha256=sha,
        bytes=size,
        facts=facts,
        schema=schema,
    )
    manifests.write(target, manifest)
    if record:
        _record(svc, target, manifest, actor)
    return manifest


def _prepare(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupTargetInvalid(f"{target} exists and is not an empty folder")
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupTargetInvalid(f"{target} cannot be created: {exc.strerror}") from None


def _sign_if_grown(svc: Services) -> None:
    with svc.uow(read_only=True) as uow:
        size = StoredTree(uow.conn).size()
        last = latest_head(uow.conn)
    if size and (last is None or last.tree_size < size):
        # Without a ledger key there is no head to prove from: the manifest says so.
        with contextlib.suppress(NoLedgerKey):
            sign_tree_head(svc)


def _sqlite(svc: Services, copy: Path, progress: Progress | None) -> tuple[Facts, None]:
    source = backup_sqlite.database_path(svc.settings.effective_database_url)
    backup_sqlite.copy_out(
        source, copy, None if progress is None else lambda d, t: progress("copying", d, t)
    )
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as conn:
            return read_facts(conn), None
    finally:
        engine.dispose()


def _postgres(svc: Services, copy: Path, progress: Progress | None) -> tuple[Facts, str]:
    backup_postgres.tool("pg_dump")  # before any transaction: say so plainly
    with svc.engine.connect() as conn:
        snapshot_conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with snapshot_conn.begin():
            snapshot = str(snapshot_conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            schema = backup_postgres.current_schema(snapshot_conn)
            facts = read_facts(snapshot_conn)
            backup_postgres.dump(
                svc.settings.effective_database_url,
                copy,
                schema=schema,
                snapshot=snapshot,
                tables=len(metadata.tables) + 1,  # and alembic_version
                progress=None if progress is None else lambda d, t: progress("dumping", d, t),
            )
    return facts, schema


def _record(svc: Services, target: Path, manifest: Manifest, actor: str) -> None:
    facts = manifest.facts
    with svc.uow() as uow:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.DATABASE_BACKED_UP,
                    occurred_at=svc.clock.now(),
                    actor=actor,
                    subject_id=None,
                    case_id=None,
                    data={
                        "destination": str(target),
                        "backend": manifest.backend,
                        "sha256": manifest.sha256,
                        "bytes": manifest.bytes,
                        "ledger_size": facts.ledger_size,
                        "ledger_root": facts.ledger_root,
                        "head_size": None if facts.head is None else facts.head["tree_size"],
                        "cases": facts.cases,
                        "receipts": facts.receipts,
                        "schema_revisions": facts.schema_revisions,
                    },
                )
            ]
        )
        uow.commit()
