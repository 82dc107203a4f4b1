"""Real servers the tests start on loopback (slapd, Samba AD, SCIM, SMTP, rsyslog)."""

from __future__ import annotations

import subprocess


def running_pid(process: subprocess.Popen[bytes] | None) -> int:
    """The process id of a server started with ``process``, while it runs (the
    benchmarks read its CPU time from /proc)."""
    if process is None or process.poll() is not None:
        raise RuntimeError("the server is not running")
    return process.pid
