"""The checks of ``custos doctor`` (docs/operations.md, "Doctor"): the
configuration, the key files, the database and its migration level, the clock
against the database's, and each connected system with its TLS. Each check
gives findings; a failed one says what is wrong and what to do. Nothing here
changes anything: no migration, no key made, no directory written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from custos.config import Settings
from custos.domain.errors import DomainError

#: More than this between this host's clock and the database's is a problem:
#: token lifetimes, leases and ledger times are compared across both.
MAX_SKEW = timedelta(seconds=5)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def configuration(load: Callable[[], Settings]) -> tuple[Settings | None, Finding]:
    """Load the settings; None (and the reason) when they are invalid."""
    try:
        settings = load()
    except DomainError as exc:
        return None, Finding("configuration", False, f"[{exc.error_id}] {exc.message}")
    return settings, Finding("configuration", True, "valid")


def sealing_key(settings: Settings) -> Finding:
    from custos.keystore.selection import key_store

    try:
        store = key_store(settings)
        ring = store.load()
    except DomainError as exc:
        return Finding("sealing key", False, exc.message)
    return Finding("sealing key", True, f"{store.description}: primary {ring.primary.key_id}")


def ledger_key(settings: Settings) -> Finding:
    from custos.ledger.signing import KeyRing

    folder = settings.effective_ledger_keys_dir
    try:
        active = KeyRing(folder).active()
    except DomainError as exc:
        return Finding("ledger signing key", False, exc.message)
    return Finding("ledger signing key", True, f"{folder}: active {active.key_id}")


def database(engine: Engine, now: Callable[[], datetime]) -> list[Finding]:
    """Reachability, migration level and clock skew."""
    from custos.store.database import MIGRATIONS, is_sqlite, known_revisions, schema_revisions

    where = make_url(engine.url).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            at = schema_revisions(conn)
            db_now = None if is_sqlite(engine) else conn.execute(text("SELECT now()")).scalar()
            local = now()
    except Exception as exc:  # any driver error: the message is the finding
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Finding("database", False, f"cannot reach {where}: {first}")]
    found = [Finding("database", True, f"reachable: {where}")]
    found.append(_migration_level(at, _heads(str(MIGRATIONS)), known_revisions()))
    if db_now is None:
        found.append(Finding("clock", True, "SQLite runs on this host's clock"))
    else:
        found.append(_skew(local, db_now))
    return found


def _heads(location: str) -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", location)
    return sorted(ScriptDirectory.from_config(cfg).get_heads())


def _migration_level(at: list[str], heads: list[str], known: set[str]) -> Finding:
    if at == heads:
        return Finding("migration level", True, f"at {', '.join(at)} (newest)")
    if not at:
        return Finding("migration level", False, "no schema: run 'custos db upgrade'")
    unknown = sorted(set(at) - known)
    if unknown:
        return Finding(
            "migration level",
            False,
            f"at {', '.join(at)}, newer than this release ({', '.join(heads)}): "
            "upgrade Custos on this host",
        )
    return Finding(
        "migration level",
        False,
        f"at {', '.join(at)}, this release expects {', '.join(heads)}: run 'custos db upgrade'",
    )


def _skew(local: datetime, db_now: datetime) -> Finding:
    skew = abs(local.astimezone(UTC) - db_now.astimezone(UTC))
    text_ = f"{skew.total_seconds():.1f} s between this host and the database"
    if skew > MAX_SKEW:
        return Finding(
            "clock", False, f"{text_} (more than {MAX_SKEW.seconds} s): synchronise both (NTP)"
        )
    return Finding("clock", True, text_)


def targets(settings: Settings, engine: Engine) -> list[Finding]:
    """Each target's own connection test (connect, TLS, bind, permissions)."""
    from custos.connectors.errors import ConnectorError
    from custos.connectors.registry import ConnectorRegistry
    from custos.connectors.spi import TestOp

    try:
        registry = ConnectorRegistry.from_config(settings.targets, engine)
    except (ValueError, DomainError) as exc:
        return [Finding("targets", False, str(exc))]
    found = []
    for name in registry.names():
        check = f"target {name}"
        connector = registry.get(name).connector
        if not isinstance(connector, TestOp):
            found.append(Finding(check, True, "offers no connection test"))
            continue
        try:
            steps = connector.test()
        except ConnectorError as exc:
            found.append(Finding(check, False, exc.answer))
            continue
        failed = [s for s in steps if not s.ok]
        if failed:
            found.append(Finding(check, False, f"{failed[0].name}: {failed[0].detail}"))
        else:
            found.append(Finding(check, True, ", ".join(s.name for s in steps)))
    return found


def _exists(path: str) -> bool:
    from pathlib import Path

    return path == ":memory:" or Path(path).exists()


def run_all(
    load: Callable[[], Settings], make_engine: Callable[[str], Engine], now: Callable[[], datetime]
) -> list[Finding]:
    """Every check, in order; the configuration first, since the rest need it."""
    settings, first = configuration(load)
    if settings is None:
        return [first]
    found = [first, sealing_key(settings), ledger_key(settings)]
    url = make_url(settings.effective_database_url)
    if url.drivername.startswith("sqlite") and url.database and not _exists(url.database):
        # make_engine would create the file: the doctor changes nothing.
        return [
            *found,
            Finding("database", False, f"no database at {url.database}: run 'custos db upgrade'"),
        ]
    engine = make_engine(settings.effective_database_url)
    try:
        found += database(engine, now)
        found += targets(settings, engine)
    finally:
        engine.dispose()
    return found
