"""``scripts/audit-deps``, the vulnerability audit of the locked dependencies
that ``scripts/test`` runs: the real script, the real ``uv export`` of uv.lock
and the real pip-audit, pointed (``--osv-url``) at a local stand-in for the
OSV API, since the tests cannot reach the internet. Proven here: an
unreachable database is said plainly and does not fail the run; a reported
vulnerability fails it; every locked package is asked about. Not proven here:
that the real OSV service answers as the stand-in does (its query and answer
format is the one pip-audit's OSV client speaks, which is what is exercised)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "audit-deps"


@dataclass
class OsvStandIn:
    """Answers ``POST /v1/query`` as the OSV API does; ``vulnerable`` maps a
    package name to the advisory id reported for every version of it."""

    port: int
    vulnerable: dict[str, str] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/query"


@pytest.fixture
def osv() -> Iterator[OsvStandIn]:
    state = OsvStandIn(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name, version = query["package"]["name"], query["version"]
            state.asked.append((name, version))
            answer: dict[str, Any] = {}
            if name in state.vulnerable:
                answer = {"vulns": [_advisory(state.vulnerable[name], name)]}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _advisory(advisory_id: str, name: str) -> dict[str, Any]:
    return {
        "id": advisory_id,
        "summary": "a test advisory",
        "aliases": [],
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "999.0"}]}
                ],
            }
        ],
    }


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_database_is_said_plainly_and_does_not_fail() -> None:
    done = _run("--osv-url", f"http://127.0.0.1:{_closed_port()}/v1/query")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("vulnerability audit could not run: ")
    assert "Connection refused" in done.stdout


def test_a_known_vulnerability_fails_the_run(osv: OsvStandIn) -> None:
    osv.vulnerable["pyyaml"] = "CUSTOS-TEST-0001"
    done = _run("--osv-url", osv.url)
    assert done.returncode == 1, done.stdout + done.stderr
    [finding] = [line for line in done.stdout.splitlines() if line.startswith("VULNERABLE")]
    version = dict(osv.asked)["pyyaml"]
    assert finding.startswith(f"VULNERABLE pyyaml {version}: CUSTOS-TEST-0001 (fixed in 999.0)")
    assert "vulnerability audit failed: 1 known vulnerabilities" in done.stdout


def test_clean_audit_asks_about_every_locked_package(osv: OsvStandIn) -> None:
    done = _run("--osv-url", osv.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no known vulnerability" in done.stdout
    asked = {name for name, _ in osv.asked}
    locked = _locked_names()
    assert {"fastapi", "sqlalchemy", "cryptography", "python-ldap", "pytest", "pip-audit"} <= asked
    assert asked <= locked
    assert len(asked) >= len(locked) - 10  # only packages for other platforms are left out


def _locked_names() -> set[str]:
    import tomllib

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {p["name"] for p in lock["package"] if p["name"] != "custos-recovery"}


def _script() -> ModuleType:
    loader = SourceFileLoader("audit_deps", str(SCRIPT))
    module = ModuleType(loader.name)
    module.__file__ = str(SCRIPT)
    loader.exec_module(module)
    return module


def test_other_failures_are_not_passed_off_as_unreachable() -> None:
    """A report that cannot be read, or an error that is not about reaching the
    database, fails with status 2 instead of passing."""
    decide = _script().decide
    assert decide(1, "not json", "")[0] == 2
    broken = decide(1, None, "Traceback ...\nValueError: invalid requirement: 'x=='")
    assert broken == (2, ["vulnerability audit failed: ValueError: invalid requirement: 'x=='"])
    status, lines = decide(1, None, "requests.exceptions.ReadTimeout: timed out")
    assert (status, lines) == (
        0,
        ["vulnerability audit could not run: requests.exceptions.ReadTimeout: timed out"],
    )
