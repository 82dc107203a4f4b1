"""A backup folder: the database copy (``custos.db`` for SQLite, ``custos.pgdump``
for PostgreSQL) and ``manifest.json``, which records what the copy holds: its
SHA-256, the schema revision, the ledger's size and root, the newest signed
head inside it, counts of cases and receipts, and the ids of the sealing keys
its sealed values name (never a key)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, func, select

from custos.domain.errors import InvalidInput
from custos.ledger.heads import latest_head
from custos.ledger.merkle import EMPTY_ROOT
from custos.ledger.signing import KeyRingError, TreeHead
from custos.ledger.tree_store import StoredTree
from custos.store import sealed_inventory as inventory
from custos.store.database import schema_revisions
from custos.store.tables import cases, receipts, subjects

FORMAT: Final = "custos-backup/1"
MANIFEST: Final = "manifest.json"
FILES: Final = {"sqlite": "custos.db", "postgresql": "custos.pgdump"}


class BackupInvalid(InvalidInput):
    error_id = "backup_invalid"


@dataclass(frozen=True, slots=True)
class Facts:
    """What one database holds, as a backup records it."""

    schema_revisions: list[str]
    ledger_size: int
    ledger_root: str
    #: The newest signed head no bigger than the ledger (None: never signed).
    head: dict[str, object] | None
    cases: int
    receipts: int
    subjects: int
    #: Sealed values by the key id they name (``legacy``: before key ids).
    sealing_key_ids: dict[str, int]

    @property
    def tree_head(self) -> TreeHead | None:
        return None if self.head is None else TreeHead.from_json(self.head)


def read_facts(conn: Connection) -> Facts:
    """The facts of the database behind ``conn`` (one snapshot when the caller's
    transaction is one)."""
    tree = StoredTree(conn)
    size = tree.size()
    head = latest_head(conn, max_size=size)
    by_key: dict[str, int] = {}
    for col in inventory.SEALED_COLUMNS:
        for key_id, n in inventory.count_by_key(conn, col).items():
            by_key[key_id] = by_key.get(key_id, 0) + n

    def count(table: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    return Facts(
        schema_revisions=schema_revisions(conn),
        ledger_size=size,
        ledger_root=(tree.root(size) if size else EMPTY_ROOT).hex(),
        head=None if head is None else head.to_json(),
        cases=count(cases),
        receipts=count(receipts),
        subjects=count(subjects),
        sealing_key_ids=by_key,
    )


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str
    backend: str
    file: str
    sha256: str
    bytes: int
    facts: Facts
    #: PostgreSQL: the schema the dump holds (a restore recreates it by that name).
    schema: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Raises BackupInvalid on anything malformed."""
        try:
            if data.get("format") != FORMAT:
                raise BackupInvalid(f"not a Custos backup manifest (format {FORMAT})")
            facts = Facts(**data["facts"])
            manifest = cls(
                created_at=str(data["created_at"]),
                backend=str(data["backend"]),
                file=str(data["file"]),
                sha256=str(data["sha256"]),
                bytes=int(data["bytes"]),
                facts=facts,
                schema=None if data.get("schema") is None else str(data["schema"]),
            )
            _ = facts.tree_head  # a malformed head fails here
        except (KeyError, TypeError, ValueError, KeyRingError) as exc:
            raise BackupInvalid(f"the backup manifest is malformed: {exc}") from None
        if manifest.backend not in FILES or manifest.file != FILES[manifest.backend]:
            raise BackupInvalid(f"the backup manifest names an unknown copy '{manifest.file}'")
        return manifest


def digest(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def write(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")


def read(folder: Path) -> Manifest:
    """The manifest of the backup in ``folder``, its copy checked against the
    recorded SHA-256. Raises BackupInvalid naming what is wrong."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupInvalid(f"{folder} is not a Custos backup: {MANIFEST} is missing")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BackupInvalid(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise BackupInvalid(f"{path} is not a manifest")
    manifest = Manifest.from_json(data)
    copy = folder / manifest.file
    if not copy.is_file():
        raise BackupInvalid(f"the backup's copy {copy} is missing")
    sha, size = digest(copy)
    if (sha, size) != (manifest.sha256, manifest.bytes):
        raise BackupInvalid(
            f"{copy} does not match its manifest (SHA-256 or size differs): altered or incomplete"
        )
    return manifest
