"""A real rsyslog on loopback for the SIEM export tests: one plain TCP listener
and one TLS listener (gtls driver, Debian package ``rsyslog-gnutls``, with a
throwaway CA), writing every received message to a file as an RFC 5424 line.
It runs in the foreground (``rsyslogd -n``) from its own configuration; a
server that cannot start fails the tests, never skips them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers.tls import TlsFiles, make_tls_files

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

CONFIG = """\
global(workDirectory="{folder}"
       defaultNetstreamDriverCAFile="{ca}"
       defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" maxSessions="200")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="received")
input(type="imtcp" address="127.0.0.1" port="{tls_port}" ruleset="received"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
ruleset(name="received") {{
  action(type="omfile" file="{output}" template="RSYSLOG_SyslogProtocol23Format"
         asyncWriting="off" flushOnTXEnd="on")
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@dataclass
class Rsyslog:
    folder: Path
    tls: TlsFiles
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def output(self) -> Path:
        return self.folder / "received.log"

    @property
    def config(self) -> Path:
        return self.folder / "rsyslog.conf"

    def start(self) -> None:
        """Start rsyslogd and wait until both listeners answer; fails the test if not."""
        self.config.write_text(
            CONFIG.format(
                folder=self.folder,
                ca=self.tls.ca_file,
                cert=self.tls.cert_file,
                key=self.tls.key_file,
                port=self.port,
                tls_port=self.tls_port,
                output=self.output,
            )
        )
        log = (self.folder / "rsyslogd.out").open("ab")
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.folder / "rsyslogd.pid")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _answers(self.port) and _answers(self.tls_port):
                return
            time.sleep(0.05)
        self.stop()
        output = (self.folder / "rsyslogd.out").read_text(errors="replace")
        pytest.fail(f"rsyslogd did not start (is rsyslog-gnutls installed?):\n{output}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def lines(self) -> list[str]:
        if not self.output.exists():
            return []
        return self.output.read_text(encoding="utf-8").splitlines()

    def wait_for_lines(self, start: int, count: int, timeout: float = 10) -> list[str]:
        """The lines after the first ``start``, once there are at least ``count`` of
        them (or whatever arrived when ``timeout`` ran out)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.lines()[start:]
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@pytest.fixture(scope="session")
def rsyslog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rsyslog]:
    folder = tmp_path_factory.mktemp("rsyslog")
    server = Rsyslog(folder=folder, tls=make_tls_files(folder))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rsyslog(rsyslog_server: Rsyslog) -> Rsyslog:
    """The session's rsyslog, started again if a test stopped it."""
    if not rsyslog_server.running:
        rsyslog_server.start()
    return rsyslog_server
