"""The soak bench's deployment: a fresh PostgreSQL database, one configuration
file, seeded subjects and operators, and the ``custos serve`` / ``custos worker``
processes the load runs against (started, SIGKILLed and restarted here).

The built-in directory is the target because its password writes can be
counted where they land: a trigger on its table (installed here, outside
Custos) records every change of a password hash, so the bench counts writes
without trusting what Custos says it did."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from custos.bootstrap import bootstrap
from custos.clock import SystemClock
from custos.config import load_settings
from custos.connectors.builtin import BuiltinDirectory
from custos.domain.identities import Employment
from custos.domain.model import Contact, ContactKind, LinkedAccount, Role, Subject
from custos.ledger.heads import sign_tree_head
from custos.ledger.rotation import rotate_ledger_key
from custos.service.console import operator_admin

TARGET = "directory"
GROUP = "staff"
#: Subjects each simulated user owns, per kind of flow (never shared between users).
SELF_SERVICE_PER_USER = 120
HELPDESK_PER_USER = 60
SIGN_IN_ACCOUNTS = 10
SIGN_IN_PASSWORD = "Soak-sign-in-Passw0rd!"

WRITE_COUNTER = """
CREATE TABLE soak_password_writes (
    seq bigserial PRIMARY KEY,
    target text NOT NULL,
    account_id text NOT NULL,
    password_hash text,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION soak_count_write() RETURNS trigger AS $$
BEGIN
    INSERT INTO soak_password_writes (target, account_id, password_hash)
    VALUES (NEW.target, NEW.account_id, NEW.password_hash);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER soak_count_write AFTER UPDATE OF password_hash ON builtin_accounts
    FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION soak_count_write();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database(admin_url: str) -> str:
    """A new, empty database on the server of ``admin_url``; returns its URL."""
    name = f"custos_soak_{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Pools:
    """The subjects and operators' tokens the load uses (handed to locust as JSON)."""

    users: int
    self_service: list[str]
    helpdesk: list[str]
    sign_in: list[str]
    tokens: dict[str, str] = field(default_factory=dict)


def write_config(folder: Path, database_url: str) -> Path:
    """The one configuration file every process reads (the sealing key comes
    from the environment, see :func:`environment`)."""
    config = folder / "custos.toml"
    config.write_text(
        "\n".join(
            [
                f'data_dir = "{folder / "data"}"',
                f'database_url = "{database_url}"',
                f'outbox_dir = "{folder / "outbox"}"',
                'log_level = "warning"',
                # The load comes from 127.0.0.1 on behalf of many callers, each
                # named in X-Forwarded-For, as a reverse proxy would.
                'trusted_proxies = ["127.0.0.1/32"]',
                "[worker]",
                "poll_interval_s = 0.2",
                # Short, so receipts a killed worker held are taken over soon.
                "lease_s = 10",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


def environment(sealing_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_SEALING_KEY"] = sealing_key
    return env


def seed(config: Path, sealing_key: str, users: int) -> Pools:
    """Migrate, install the write counter, add the subjects (employees recover
        by self-service, contractors through the help desk with one approval) and
        three operators: agent (requester, executor, approver), approver, auditor;
    then a ledger signing key and a first signed head."""
    settings = load_settings(config, sealing_key=sealing_key)
    svc = bootstrap(settings, migrate=True, clock=SystemClock())
    with svc.engine.begin() as conn:
        conn.exec_driver_sql(WRITE_COUNTER)
    pools = Pools(
        users=users,
        self_service=[
            f"ss{u:03d}x{k:04d}" for u in range(users) for k in range(SELF_SERVICE_PER_USER)
        ],
        helpdesk=[f"hd{u:03d}x{k:04d}" for u in range(users) for k in range(HELPDESK_PER_USER)],
        sign_in=[f"si{k:03d}" for k in range(SIGN_IN_ACCOUNTS)],
    )
    now = svc.clock.now()
    employment = {"ss": Employment.EMPLOYEE, "hd": Employment.CONTRACTOR, "si": Employment.EMPLOYEE}
    with svc.uow() as uow:
        for sid in [*pools.self_service, *pools.helpdesk, *pools.sign_in]:
            uow.subjects.add(
                Subject(
                    id=sid,
                    display_name=sid,
                    employment=employment[sid[:2]],
                    groups=frozenset({GROUP}),
                    contacts=(Contact(ContactKind.EMAIL, f"{sid}@soak.example", True),),
                    accounts=(LinkedAccount(TARGET, sid),),
                ),
                now=now,
            )
        uow.commit()
    directory = BuiltinDirectory(TARGET, svc.engine)
    for sid in [*pools.self_service, *pools.helpdesk]:
        directory.create_account(sid)
    for sid in pools.sign_in:
        directory.create_account(sid, SIGN_IN_PASSWORD)
    # The agent may approve too, so its approval of its own case meets the
    # separation-of-duties rule (sod_violation), not a missing role.
    roles = {
        "agent": [Role.REQUESTER, Role.EXECUTOR, Role.APPROVER],
        "approver": [Role.APPROVER],
        "auditor": [Role.AUDITOR],
    }
    for name, granted in roles.items():
        added = operator_admin.add(
            svc,
            operator_admin.CLI_ACTOR,
            name=name,
            roles=granted,
            scope=[GROUP],
            groups=[GROUP],
            api_token=True,
            token_days=1,
        )
        assert added.api_token is not None
        pools.tokens[name] = added.api_token
    # A ledger signing key and a first signed head, as a deployment has after
    # setup: evidence exports sign a new head with it.
    rotate_ledger_key(svc, actor="cli:soak")
    sign_tree_head(svc)
    svc.engine.dispose()
    return pools


@dataclass
class Cluster:
    """Two API processes and two workers on one configuration."""

    config: Path
    env: dict[str, str]
    logs: Path
    ports: list[int]
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def _spawn(self, label: str, *args: str, port: int | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env)
        if port is not None:
            env["CUSTOS_PORT"] = str(port)
        log = (self.logs / f"{label}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "custos.cli.main", "--config", str(self.config), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for i, port in enumerate(self.ports):
            self.apis.append(self._spawn(f"api{i}", "serve", port=port))
        for i in range(2):
            self.workers.append(self._spawn(f"worker{i}", "worker"))
        for base in self.bases:
            wait_ready(base)

    def kill_and_restart(
        self, after_kill: Callable[[int], list[str]] | None = None
    ) -> dict[str, Any]:
        """SIGKILL API 0 and worker 0, then start them again; returns the pids
        killed and how long the API took to answer again. ``after_kill`` is
        given the dead worker's pid before anything restarts (the soak lists
        the receipts it held then: their writes may have reached the directory
        without being recorded, so the worker that takes them over writes the
        same secret again, at least once by design)."""
        killed: dict[str, Any] = {"api0": self.apis[0].pid, "worker0": self.workers[0].pid}
        for process in (self.apis[0], self.workers[0]):
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        if after_kill is not None:
            killed["in_flight"] = after_kill(killed["worker0"])
        self.apis[0] = self._spawn("api0", "serve", port=self.ports[0])
        self.workers[0] = self._spawn("worker0", "worker")
        start = time.monotonic()
        try:
            wait_ready(self.bases[0], timeout_s=RESTART_TIMEOUT_S)
            killed["api_back_after_s"] = round(time.monotonic() - start, 1)
        except RuntimeError:
            # Reported as a violation by the soak; the load goes on against api1.
            killed["api_back_after_s"] = None
        return killed

    def stop(self) -> None:
        for process in [*self.apis, *self.workers]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.apis, *self.workers]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def crashed(self) -> list[str]:
        """Processes that ended by themselves (not killed by the bench)."""
        named = [(f"api{i}", p) for i, p in enumerate(self.apis)]
        named += [(f"worker{i}", p) for i, p in enumerate(self.workers)]
        return [name for name, p in named if p.poll() is not None]


#: How long a restarted API process may take to answer (a loaded 2-core
#: machine has taken over 100 s).
RESTART_TIMEOUT_S = 600


def wait_ready(base: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API at {base} did not start")
        time.sleep(0.2)


def pools_json(pools: Pools, cluster: Cluster, outbox: Path, journal: Path) -> dict[str, Any]:
    return {
        "bases": cluster.bases,
        "outbox": str(outbox),
        "journal": str(journal),
        "users": pools.users,
        "self_service_per_user": SELF_SERVICE_PER_USER,
        "helpdesk_per_user": HELPDESK_PER_USER,
        "sign_in": pools.sign_in,
        "tokens": pools.tokens,
    }


def dump(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
