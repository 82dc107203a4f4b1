"""Shared fixtures. Store-touching tests run on SQLite and on PostgreSQL; the
PostgreSQL server is the one at CUSTOS_TEST_PG_URL (default 127.0.0.1:5432, database
``test``), which ``scripts/test`` starts when none answers. A missing server fails
the test: it never skips."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import db_templates
import pytest
from sqlalchemy import create_engine, text

from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
from custos.connectors.builtin import BuiltinDirectory
from custos.credentials import seal_contexts
from custos.credentials.keys import MasterKey
from custos.domain.model import (
    Contact,
    ContactKind,
    Employment,
    Hold,
    LinkedAccount,
    Operator,
    Role,
    Subject,
    SubjectKind,
)
from custos.keystore.file_store import generate_key_file
from custos.notify.outbox import read_outbox
from custos.proofing import recovery_code, totp
from custos.service.holds.commands import place_hold
from custos.service.notices.outbox_sweep import deliver_due
from custos.service.ports import Services
from custos.service.recovery.operators import add_operator

# Real servers for the connector contract suite and fault tests, one module each.
pytest_plugins = [
    f"servers.{name}"
    for name in (
        "builtin",
        "slapd",
        "samba",
        "scim",
        "graph",
        "okta",
        "rsyslog",
        "smtp",
        "lemonldap",
    )
] + ["oidc_world"]  # a real OpenID provider (oidc-provider) for single sign-on

PG_URL = os.environ.get("CUSTOS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: A Wednesday, 10:00 in Berlin: inside business hours, so risk is predictable.
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgres"]


def pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@dataclass
class World:
    """A running Custos (services + clock) and helpers to populate it."""

    svc: Services
    clock: ManualClock
    outbox: Path
    totp_secrets: dict[str, str] = field(default_factory=dict)
    recovery_codes: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)
    #: The SMTP test server this World's mail goes to (tests/mail_world.py), if any.
    mail_server: Any = None

    @property
    def directory(self) -> BuiltinDirectory:
        return BuiltinDirectory("directory", self.svc.engine)

    def subject(
        self,
        subject_id: str,
        *,
        privileged: bool = False,
        kind: SubjectKind = SubjectKind.HUMAN,
        employment: Employment = Employment.EMPLOYEE,
        groups: tuple[str, ...] = ("staff",),
        holds: tuple[Hold, ...] = (),
        with_totp: bool = False,
        codes: int = 0,
        email: bool = True,
        mfa_bound: bool = False,
    ) -> Subject:
        subject = Subject(
            id=subject_id,
            display_name=subject_id.capitalize(),
            kind=kind,
            employment=employment,
            privileged=privileged,
            groups=frozenset(groups),
            contacts=(
                Contact(ContactKind.EMAIL, f"{subject_id}@example.org", True),
                Contact(ContactKind.EMAIL, f"{subject_id}@old.example.org", False),
            )
            if email
            else (),
            accounts=(LinkedAccount("directory", subject_id),),
            mfa_bound=mfa_bound or with_totp,
            time_zone="Europe/Berlin",
        )
        now = self.clock.now()
        with self.svc.uow() as uow:
            uow.subjects.add(subject, now=now)
            if with_totp:
                secret = totp.new_totp_secret()
                uow.enrolments.set_totp(
                    subject_id,
                    self.svc.sealer.seal(secret, aad=seal_contexts.subject_totp(subject_id)),
                    now=now,
                )
                self.totp_secrets[subject_id] = secret
            if codes:
                generated = recovery_code.generate_codes(codes)
                for code in generated:
                    uow.enrolments.add_recovery_code(subject_id, code.lookup_id, code.hash, now=now)
                self.recovery_codes[subject_id] = [c.plain for c in generated]
            for hold in holds:  # records, as security would set them (docs/holds.md)
                place_hold(
                    uow,
                    kind=str(hold),
                    subject_id=subject_id,
                    group=None,
                    reason=f"test {hold}",
                    ticket="TEST-1",
                    set_by="system:test",
                    set_by_person=None,
                    now=now,
                )
            uow.commit()
            subject = replace(subject, holds=frozenset(str(h) for h in holds))
        self.directory.create_account(subject_id, secrets.token_urlsafe(20))
        return subject

    def operator(
        self,
        name: str,
        *roles: Role,
        scope: tuple[str, ...] = ("*",),
        groups: tuple[str, ...] = (),
        person: str | None = None,
    ) -> str:
        operator, token = add_operator(
            self.svc,
            name=name,
            roles=list(roles),
            scope=list(scope),
            groups=list(groups),
            person=person,
        )
        self.tokens[name] = token
        self.operators[name] = operator
        return token

    def totp_now(self, subject_id: str) -> str:
        import pyotp

        return pyotp.TOTP(self.totp_secrets[subject_id]).at(self.clock.now())

    def send_notices(self) -> int:
        """What the worker does every pass for notices: send everything waiting
        in the notice outbox (requests only write it). Returns the rows handled."""
        handled = 0
        while sent := deliver_due(self.svc):
            handled += sent
        return handled

    def mail(self, to: str, kind: str) -> list[dict[str, Any]]:
        """The messages of ``kind`` that reached ``to``, after the notices
        waiting in the outbox were sent."""
        self.send_notices()
        return [m for m in read_outbox(self.outbox) if m["to"] == to and m["kind"] == kind]

    def last_code(self, subject_id: str) -> str:
        import re

        body = self.mail(f"{subject_id}@example.org", "email_code")[-1]["body"]
        match = re.search(r"is (\d{8})\.", body)
        assert match, body
        return match.group(1)

    def last_link_token(self, subject_id: str) -> str:
        body: str = self.mail(f"{subject_id}@example.org", "reset_link")[-1]["body"]
        return body.split("#token=")[1].split()[0]

    def drain(self, passes: int = 20) -> None:
        """Run the worker until it finds nothing to do."""
        from custos.propagation.worker import Worker

        worker = Worker(self.svc, owner="test-worker")
        for _ in range(passes):
            if worker.run_once() == 0:
                return


def make_world(
    database_url: str,
    tmp_path: Path,
    *,
    start: datetime = START,
    public_origin: str = "https://recovery.example.org",
    key_file: bool = False,
    **settings: Any,
) -> World:
    """``key_file``: the sealing key in ``<tmp_path>/sealing.key`` (a store that a
    rotation can write) instead of the environment."""
    clock = ManualClock(start)
    outbox = tmp_path / "outbox"
    sqlite_file = database_url.removeprefix("sqlite:///")
    if sqlite_file != database_url and not Path(sqlite_file).exists():
        db_templates.copy_sqlite_template(Path(sqlite_file))
    if key_file:
        generate_key_file(tmp_path / "sealing.key")
    else:
        settings["sealing_key"] = MasterKey.generate().to_b64()
    config = load_settings(
        None,
        data_dir=tmp_path,
        database_url=database_url,
        public_origin=public_origin,
        outbox_dir=outbox,
        **settings,
    )
    svc = bootstrap(config, clock=clock, migrate=True)
    return World(svc=svc, clock=clock, outbox=outbox)


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A Custos on SQLite and, in a second run, on PostgreSQL."""
    yield from _world(request.param, tmp_path)


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    yield from _world("sqlite", tmp_path)


@pytest.fixture(params=BACKENDS)
def key_file_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Like ``world``, with the sealing key in a file (``<tmp_path>/sealing.key``)."""
    yield from _world(request.param, tmp_path, key_file=True)


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL; yields a URL whose connections use it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh database in the test PostgreSQL, already at the newest revision
    (copied from a migrated template); yields its URL."""
    with db_templates.pg_database(PG_URL) as url:
        yield url


def _world(backend: str, tmp_path: Path, **options: Any) -> Iterator[World]:
    if backend == "sqlite":
        w = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **options)
        yield w
        w.svc.engine.dispose()
        return
    with pg_database() as url:
        w = make_world(url, tmp_path, **options)
        try:
            yield w
        finally:
            w.svc.engine.dispose()


#: Fixtures whose server binds fixed ports (the Samba AD domain controller: 389
#: and 636): under pytest-xdist every test using one must run in one worker.
FIXED_PORT_FIXTURES = frozenset({"samba_dc", "ad_harness"})
#: The test modules that start the domain controller; with the contract suite's
#: ``[ad]`` tests they form the "samba-ad" group of the scheduler below.
SAMBA_MODULES = (
    "test_active_directory_batch.py",
    "test_active_directory_connector.py",
    "test_attribute_mapping_samba.py",
    "test_privileged_chain_samba_lemonldap.py",
    "test_propagation_faults.py",
    "test_service_rotation_samba.py",
    "test_service_owner_mapping_samba.py",
)


#: Modules whose tests share one running ``custos demo`` process and its data
#: folder: each runs whole in one worker.
WHOLE_MODULES = ("test_demo_running.py", "test_demo_tour.py")


def runs_samba(nodeid: str) -> bool:
    """Whether the test ``nodeid`` belongs to the "samba-ad" group."""
    path, _, rest = nodeid.partition("::")
    return path.endswith(SAMBA_MODULES) or rest.endswith("[ad]")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run a test that starts the Samba AD domain controller outside
    the "samba-ad" group: two xdist workers would each start one on the same
    ports. The group is decided from the test's id (SAMBA_MODULES, ``[ad]``):
    the scheduler sees ids only."""
    strays = [
        item.nodeid
        for item in items
        if set(getattr(item, "fixturenames", ())) & FIXED_PORT_FIXTURES
        and not runs_samba(item.nodeid)
    ]
    if strays:
        raise pytest.UsageError(
            "tests using the Samba AD domain controller must be in a module named in "
            "tests/conftest.py SAMBA_MODULES: " + ", ".join(strays)
        )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadgroup``: every Samba AD test in one work unit (so one
    worker), each of WHOLE_MODULES in one unit, every other test on its own.
    (pytest-xdist's own xdist_group mark rewrites ``item._nodeid``, which
    pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    # pytest-xdist ships no type information: its scheduler is Any to mypy.
    class SambaGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if runs_samba(nodeid):
                return "samba-ad"
            path = nodeid.partition("::")[0]
            return path if path.endswith(WHOLE_MODULES) else nodeid

    return SambaGroupScheduling(config, log)
