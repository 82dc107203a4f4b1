"""``custos demo`` as a user runs it: a real process on a free port with its own
data folder, its printed operators' tokens and hints, stopped with Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_S = 180
#: The last line of the demo's hints (the whole block prints at once).
READY_MARK = "stops the demo"
#: An operator's block: name, roles, then its console link and its API token.
OPERATOR_BLOCK = (
    r"^  (\S+)\s+\S.* on .*\n\s+console: (http\S+#token=col_[A-Za-z0-9_-]{43})\n"
    r"\s+API:\s+(cop_[A-Za-z0-9_-]{43})$"
)
OPERATOR_TOKEN = re.compile(OPERATOR_BLOCK, re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The caller's environment without Custos settings, 200 columns wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["COLUMNS"] = "200"
    return env


def custos(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "custos.cli.main", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


@dataclass
class DemoProcess:
    cwd: Path
    data: Path
    port: int
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def tokens(self) -> dict[str, str]:
        """The operators' tokens the demo printed at its start."""
        return {name: token for name, _, token in OPERATOR_TOKEN.findall(self.output)}

    def console_links(self) -> dict[str, str]:
        """The operators' one-time console sign-in links the demo printed at its start."""
        return {name: link for name, link, _ in OPERATOR_TOKEN.findall(self.output)}

    def hinted(self, marker: str) -> list[str]:
        """The arguments after ``custos`` (or ``custos.cli.main``) of the printed
        hint line holding ``marker``, without its comment."""
        for line in self.lines:
            if marker in line:
                words = shlex.split(line.split("#", 1)[0])
                start = next(
                    i for i, w in enumerate(words) if w.endswith(("custos", "custos.cli.main"))
                )
                return words[start + 1 :]
        raise AssertionError(f"no hint with {marker!r} in:\n{self.output}")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)


def start_demo(cwd: Path, data: Path, port: int) -> DemoProcess:
    """Start ``custos demo`` and wait until it has printed its hints."""
    argv = [sys.executable, "-m", "custos.cli.main", "--data-dir", str(data)]
    process = subprocess.Popen(
        [*argv, "demo", "--port", str(port)],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = DemoProcess(cwd=cwd, data=data, port=port, process=process)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        demo.lines.append(line)
        if READY_MARK in line:
            threading.Thread(target=_drain, args=(lines, demo), daemon=True).start()
            return demo
    demo.stop()
    raise AssertionError(f"the demo did not start:\n{demo.output}")


def _drain(lines: queue.Queue[str | None], demo: DemoProcess) -> None:
    while (line := lines.get()) is not None:
        demo.lines.append(line)
