"""An upgrade drill: the previous release's API and worker processes serve help-desk
requests on one PostgreSQL database while the tree under test migrates it, then
the new release's processes join and the old ones stop (docs/operations.md,
"Upgrades")."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from demo_process import free_port
from previous_release import env_for, run_python

from custos.notify.outbox import read_outbox

START_TIMEOUT_S = 120
OPERATOR = "hana"
SECURITY = "ada"

SEED = """
import json, sys
from pathlib import Path
from conftest import make_world
from custos.domain.model import Role
world = make_world({url!r}, Path({data!r}))
world.operator({operator!r}, Role.REQUESTER)
world.operator({security!r}, Role.APPROVER, groups=("security-approvers",))
for n in range({subjects}):
    world.subject(f"u{{n:03d}}")
key = world.svc.settings.sealing_key.get_secret_value()
world.svc.engine.dispose()
tokens = world.tokens
facts = {{"sealing_key": key, "token": tokens[{operator!r}], "security": tokens[{security!r}]}}
print(json.dumps(facts))
"""


@dataclass
class Site:
    """What every process of the drill shares: the database, keys and mailbox."""

    url: str
    data: Path
    sealing_key: str
    token: str
    security_token: str

    def settings(self, port: int | None = None) -> dict[str, str]:
        env = {
            "CUSTOS_DATABASE_URL": self.url,
            "CUSTOS_DATA_DIR": str(self.data),
            "CUSTOS_OUTBOX_DIR": str(self.data / "outbox"),
            "CUSTOS_SEALING_KEY": self.sealing_key,
            "CUSTOS_PUBLIC_ORIGIN": "https://recovery.example.org",
            "CUSTOS_WORKER__POLL_INTERVAL_S": "0.2",
        }
        if port is not None:
            env |= {"CUSTOS_HOST": "127.0.0.1", "CUSTOS_PORT": str(port)}
        return env

    def mails(self, to: str) -> int:
        outbox = self.data / "outbox"
        messages = read_outbox(outbox) if outbox.exists() else []
        return sum(1 for m in messages if m["to"] == to and m["kind"] == "email_code")


def seed(code: Path, url: str, data: Path, subjects: int) -> Site:
    """Create the schema and the subjects with the old release's own test world."""
    source = SEED.format(
        url=url, data=str(data), operator=OPERATOR, security=SECURITY, subjects=subjects
    )
    facts = json.loads(run_python(code, source, data).splitlines()[-1])
    return Site(
        url=url,
        data=data,
        sealing_key=facts["sealing_key"],
        token=facts["token"],
        security_token=facts["security"],
    )


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return int(self.popen.returncode)


def start(code: Path | None, site: Site, command: str, name: str) -> Process:
    """``custos serve`` or ``custos worker`` of ``code`` (None: the tree under
    test); an API is returned once it answers ``/healthz``."""
    port = free_port() if command == "serve" else None
    log = site.data / f"{name}.log"
    env = env_for(code) | site.settings(port)
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "custos.cli.main", command],
            cwd=site.data,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    process = Process(name=name, popen=popen, log=log, port=port)
    if port is None:
        return process
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert popen.poll() is None, f"{name} stopped:\n{process.output()}"
        try:
            if httpx.get(f"{process.base}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.stop()
    raise AssertionError(f"{name} did not answer:\n{process.output()}")


def upgrade_to(url: str, revision: str, cwd: Path) -> None:
    """The tree under test's migrations, up to ``revision``."""
    run_python(
        None,
        "from custos.store.database import make_engine, upgrade\n"
        f"engine = make_engine({url!r})\nupgrade(engine, {revision!r})\nengine.dispose()",
        cwd,
    )


@dataclass
class Driver:
    """Help-desk work through the API: open a case, mail the subject a code,
    read the case back. Every answer other than the expected one is a failure."""

    site: Site
    subjects: list[str]
    opened: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _next(self) -> str:
        with self.lock:
            assert self.subjects, "the drill ran out of seeded subjects"
            return self.subjects.pop(0)

    def recover(self, api: Process) -> None:
        subject = self._next()
        headers = {"Authorization": f"Bearer {self.site.token}"}
        try:
            with httpx.Client(base_url=api.base, headers=headers, timeout=30) as client:
                opened = client.post(
                    "/api/v1/cases", json={"subject": subject, "reason": "upgrade drill"}
                )
                self._expect(api, "open", opened, 201)
                if opened.status_code != 201:
                    return
                case_id = str(opened.json()["id"])
                with self.lock:
                    self.opened[case_id] = subject
                code = client.post(f"/api/v1/cases/{case_id}/email-code")
                self._expect(api, "email-code", code, 202)
                if code.status_code == 202 and code.json().get("sent") is not True:
                    self._fail(f"{api.name} email-code {case_id}: not sent: {code.text}")
                self._expect(api, "read", client.get(f"/api/v1/cases/{case_id}"), 200)
        except httpx.HTTPError as exc:
            self._fail(f"{api.name} {subject}: {type(exc).__name__}: {exc}")

    def _expect(self, api: Process, what: str, answer: httpx.Response, status: int) -> None:
        if answer.status_code != status:
            self._fail(f"{api.name} {what}: {answer.status_code} {answer.text[:300]}")

    def _fail(self, text: str) -> None:
        with self.lock:
            self.failures.append(text)

    def held_elsewhere(self, setter: Process, opener: Process) -> tuple[str, httpx.Response]:
        """Set a legal hold on a fresh subject through ``setter``, then open a
        case for that subject through ``opener``; returns the subject and the
        opening's answer."""
        subject = self._next()
        hold = httpx.post(
            f"{setter.base}/api/v1/holds",
            headers={"Authorization": f"Bearer {self.site.security_token}"},
            json={"kind": "legal_hold", "subject": subject, "reason": "drill", "ticket": "UP-1"},
            timeout=30,
        )
        assert hold.status_code == 201, hold.text
        return subject, httpx.post(
            f"{opener.base}/api/v1/cases",
            headers={"Authorization": f"Bearer {self.site.token}"},
            json={"subject": subject, "reason": "upgrade drill"},
            timeout=30,
        )

    def batch(self, apis: list[Process], count: int) -> None:
        for n in range(count):
            self.recover(apis[n % len(apis)])

    def meanwhile(self, api: Process, stop: threading.Event) -> threading.Thread:
        """Drive ``api`` from a thread until ``stop`` is set (at least once)."""

        def run() -> None:
            self.recover(api)
            while not stop.is_set():
                self.recover(api)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def wait_for(condition: Any, what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.3)
