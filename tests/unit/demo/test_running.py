"""The running demo's record (custos.demo.running): private from its first
byte, read back whole, removed only by the process that wrote it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from custos.demo import running


def record_of(tmp_path: Path, pid: int) -> running.RunningDemo:
    return running.RunningDemo(
        base_url="http://127.0.0.1:8080",
        origin="http://127.0.0.1:8080",
        outbox=tmp_path / "outbox",
        secrets_file=tmp_path / "demo-subject-secrets.json",
        pid=pid,
        tokens={"auditor.barbara": "cop_" + "a" * 43},
    )


def test_record_is_private_and_reads_back_equal(tmp_path: Path) -> None:
    demo = record_of(tmp_path, os.getpid())
    path = running.record(tmp_path, demo)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert running.read(tmp_path) == demo
    assert [p.name for p in tmp_path.iterdir()] == [running.RUN_FILE]  # no temp file left


def test_record_replacing_a_readable_file_is_private(tmp_path: Path) -> None:
    old = tmp_path / running.RUN_FILE
    old.write_text("{}")
    old.chmod(0o644)
    running.record(tmp_path, record_of(tmp_path, os.getpid()))
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_read_missing_or_garbled_record_is_none(tmp_path: Path) -> None:
    assert running.read(tmp_path) is None
    (tmp_path / running.RUN_FILE).write_text('{"base_url": "x"}')
    assert running.read(tmp_path) is None
    (tmp_path / running.RUN_FILE).write_text("not json")
    assert running.read(tmp_path) is None


def test_forget_removes_only_the_record_of_that_process(tmp_path: Path) -> None:
    running.record(tmp_path, record_of(tmp_path, 12345))
    running.forget(tmp_path, os.getpid())
    assert running.read(tmp_path) is not None
    running.forget(tmp_path, 12345)
    assert running.read(tmp_path) is None


def test_alive_tells_a_running_process_from_a_finished_one() -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert running.alive(os.getpid())
    assert not running.alive(finished.pid)
