"""The built-in directory: accounts in the Custos database, passwords hashed with
argon2. The demo and the unit tests use it; it passes the same contract suite as
the real directories."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from custos.connectors.builtin_tables import builtin_accounts, builtin_sessions
from custos.connectors.errors import ConnectionFailed, UnknownAccount
from custos.connectors.spi import AccountInfo, AccountRecord, TestStep
from custos.credentials.password_hashing import HASHER, spend_one_verification
from custos.store.mapping import maybe_aware

#: Accounts per query when many are read (well under SQLite's bound-parameter limit).
_BATCH = 500


class BuiltinDirectory:
    """Connector for the built-in directory ``name`` (a target in configuration)."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self._engine = engine

    # -- administration (seeding, demo) -----------------------------------------
    def create_account(self, account_id: str, password: str | None = None) -> None:
        with self._guard(), self._engine.begin() as conn:
            conn.execute(
                builtin_accounts.insert().values(
                    target=self.name,
                    account_id=account_id,
                    password_hash=HASHER.hash(password) if password else None,
                    password_changed_at=datetime.now(UTC) if password else None,
                )
            )

    def open_session(self, account_id: str) -> str:
        """Record a login session (the demo's stand-in for an application session)."""
        session_id = secrets.token_hex(16)
        with self._guard(), self._engine.begin() as conn:
            self._require(conn, account_id)
            conn.execute(
                builtin_sessions.insert().values(
                    id=session_id,
                    target=self.name,
                    account_id=account_id,
                    created_at=datetime.now(UTC),
                )
            )
        return session_id

    def live_sessions(self, account_id: str) -> int:
        with self._guard(), self._engine.connect() as conn:
            rows = conn.execute(
                select(builtin_sessions.c.id).where(
                    builtin_sessions.c.target == self.name,
                    builtin_sessions.c.account_id == account_id,
                    builtin_sessions.c.revoked_at.is_(None),
                )
            )
            return len(list(rows))

    def verify_password(self, account_id: str, password: str) -> bool:
        with self._guard(), self._engine.connect() as conn:
            row = self._require(conn, account_id)
        if row.password_hash is None:
            return False
        try:
            return HASHER.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # -- SPI ---------------------------------------------------------------------
    def authenticate(self, account_id: str, password: str) -> bool:
        """argon2 verification of the stored hash; False for an unknown, disabled
        or locked account (the same cost is spent when the account is unknown)."""
        with self._guard(), self._engine.connect() as conn:
            row = self._row(conn, account_id)
        if row is None or row.password_hash is None:
            spend_one_verification(password)
            return False
        matched = _verifies(row.password_hash, password) or (
            row.previous_password_hash is not None
            and _verifies(row.previous_password_hash, password)
        )
        return bool(matched and row.enabled and not row.locked)

    def set_password_keeping_previous(self, account_id: str, password: str) -> str:
        """A rotation: the new password is set, the current one stays valid
        until :meth:`revoke_previous` (R-40)."""
        digest = HASHER.hash(password)
        with self._guard(), self._engine.begin() as conn:
            row = self._require(conn, account_id)
            self._set(
                conn,
                account_id,
                password_hash=digest,
                previous_password_hash=row.password_hash,
                must_change=False,
                password_changed_at=datetime.now(UTC),
            )
        return "password replaced; the previous one kept until its grace period ends"

    def revoke_previous(self, account_id: str) -> bool:
        with self._guard(), self._engine.begin() as conn:
            row = self._require(conn, account_id)
            if row.previous_password_hash is None:
                return False
            self._set(conn, account_id, previous_password_hash=None)
            kept = self._require(conn, account_id).previous_password_hash
        if kept is not None:
            raise ConnectionFailed(f"the previous password of '{account_id}' is still kept")
        return True

    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        digest = HASHER.hash(password)
        with self._guard(), self._engine.begin() as conn:
            self._require(conn, account_id)
            conn.execute(
                builtin_accounts.update()
                .where(
                    builtin_accounts.c.target == self.name,
                    builtin_accounts.c.account_id == account_id,
                )
                .values(
                    password_hash=digest,
                    must_change=must_change,
                    password_changed_at=datetime.now(UTC),
                    locked=False,
                    previous_password_hash=None,
                )
            )
        return "password replaced" + (" (change required at next logon)" if must_change else "")

    def revoke_sessions(self, account_id: str) -> int:
        with self._guard(), self._engine.begin() as conn:
            self._require(conn, account_id)
            result = conn.execute(
                builtin_sessions.update()
                .where(
                    builtin_sessions.c.target == self.name,
                    builtin_sessions.c.account_id == account_id,
                    builtin_sessions.c.revoked_at.is_(None),
                )
                .values(revoked_at=datetime.now(UTC))
            )
            return int(result.rowcount)

    def password_changed_at(self, account_id: str) -> datetime | None:
        found = self.passwords_changed_at([account_id])
        if account_id not in found:
            raise UnknownAccount(f"no account '{account_id}' in directory '{self.name}'")
        return found[account_id]

    def passwords_changed_at(self, account_ids: Sequence[str]) -> dict[str, datetime | None]:
        """One query per ``_BATCH`` accounts (ids compared exactly, as everywhere
        here); an unknown account is absent."""
        wanted = list(dict.fromkeys(account_ids))
        times: dict[str, datetime | None] = {}
        with self._guard(), self._engine.connect() as conn:
            for start in range(0, len(wanted), _BATCH):
                rows = conn.execute(
                    select(builtin_accounts.c.account_id, builtin_accounts.c.password_changed_at)
                    .where(builtin_accounts.c.target == self.name)
                    .where(builtin_accounts.c.account_id.in_(wanted[start : start + _BATCH]))
                )
                times.update((row.account_id, maybe_aware(row.password_changed_at)) for row in rows)
        return times

    def find_account(self, account_id: str) -> AccountInfo | None:
        with self._guard(), self._engine.connect() as conn:
            row = self._row(conn, account_id)
        if row is None:
            return None
        return AccountInfo(
            account_id=row.account_id,
            enabled=bool(row.enabled),
            locked=bool(row.locked),
            must_change=bool(row.must_change),
            password_changed_at=maybe_aware(row.password_changed_at),
        )

    def list_accounts(self) -> Iterator[AccountRecord]:
        with self._guard(), self._engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(builtin_accounts.c.account_id)
                    .where(builtin_accounts.c.target == self.name)
                    .order_by(builtin_accounts.c.account_id)
                )
            )
        for row in rows:
            yield AccountRecord(
                account_id=row.account_id, attributes={"account_id": row.account_id}
            )

    def force_change(self, account_id: str) -> None:
        self._update(account_id, must_change=True)

    def unlock(self, account_id: str) -> None:
        self._update(account_id, locked=False)

    def set_enabled(self, account_id: str, enabled: bool) -> None:
        self._update(account_id, enabled=enabled)
        if not enabled:
            self.revoke_sessions(account_id)  # disabling an account ends its sessions

    def test(self) -> list[TestStep]:
        try:
            with self._engine.connect() as conn:
                conn.execute(select(builtin_accounts.c.account_id).limit(1))
        except SQLAlchemyError as exc:
            return [TestStep("connect", False, f"database not reachable: {exc.__class__.__name__}")]
        return [
            TestStep("connect", True, "database reachable"),
            TestStep("permissions", True, "Custos owns the built-in directory tables"),
        ]

    def check_alive(self) -> bool:
        return all(step.ok for step in self.test())

    # -- helpers -------------------------------------------------------------------
    def _update(self, account_id: str, **values: object) -> None:
        with self._guard(), self._engine.begin() as conn:
            self._require(conn, account_id)
            conn.execute(
                builtin_accounts.update()
                .where(
                    builtin_accounts.c.target == self.name,
                    builtin_accounts.c.account_id == account_id,
                )
                .values(**values)
            )

    def _set(self, conn: Connection, account_id: str, **values: object) -> None:
        conn.execute(
            builtin_accounts.update()
            .where(
                builtin_accounts.c.target == self.name,
                builtin_accounts.c.account_id == account_id,
            )
            .values(**values)
        )

    def _row(self, conn: Connection, account_id: str) -> Row[Any] | None:
        return conn.execute(
            select(builtin_accounts).where(
                builtin_accounts.c.target == self.name,
                builtin_accounts.c.account_id == account_id,
            )
        ).first()

    def _require(self, conn: Connection, account_id: str) -> Row[Any]:
        row = self._row(conn, account_id)
        if row is None:
            raise UnknownAccount(f"no account '{account_id}' in directory '{self.name}'")
        return row

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Translate database trouble into the connector error tree at the boundary."""
        try:
            yield
        except OperationalError as exc:
            raise ConnectionFailed(
                f"built-in directory '{self.name}' unavailable", answer=str(exc.orig)
            ) from exc


def _verifies(digest: str, password: str) -> bool:
    try:
        return HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
