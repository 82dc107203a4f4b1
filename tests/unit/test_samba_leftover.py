"""The Samba AD fixture stops a test DC that a killed test run left holding
ports 389 and 636 (its parent is no longer a pytest process), and leaves alone
one that belongs to a run in progress. Stand-ins named ``samba`` with a
configuration under a pytest temporary folder play both parts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from servers.samba import _leftover_test_dcs, _stop_group, _test_dcs

SLEEP = "import time; time.sleep(60)"


def _conf(tmp_path: Path) -> str:
    return str(tmp_path / "pytest-of-someone" / "samba-ad0" / "etc" / "smb.conf")


def _wait_for(pid_file: Path) -> int:
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        time.sleep(0.05)
    raise AssertionError("the stand-in never started")


def _listed(pid: int) -> bool:
    """Whether the stand-in is seen as a test DC. Its pid is known as soon as
    it is forked, before it has exec'd under the name ``samba`` (a busy machine
    leaves that gap long enough to see), so wait for the name, up to 10 s."""
    for _ in range(200):
        if pid in _test_dcs():
            return True
        time.sleep(0.05)
    return False


def test_an_orphaned_test_dc_is_a_leftover_and_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # Started through a shell that exits at once: the stand-in is adopted by
    # another parent, as a DC is when pytest is killed under it.
    subprocess.run(
        [
            "setsid",
            "bash",
            "-c",
            f"exec -a samba {sys.executable} -c '{SLEEP}' -s {_conf(tmp_path)} "
            f"& echo $! > {pid_file}",
        ],
        check=True,
    )
    pid = _wait_for(pid_file)
    try:
        assert _listed(pid)
        assert pid in _leftover_test_dcs()
    finally:
        _stop_group(pid)
    assert pid not in _test_dcs()  # gone (or a zombie, with no command line left)


def test_a_test_dc_of_a_running_session_is_left_alone(tmp_path: Path) -> None:
    stand_in = subprocess.Popen(
        ["samba", "-c", SLEEP, "-s", _conf(tmp_path)],
        executable=sys.executable,
        start_new_session=True,
    )
    try:
        assert _listed(stand_in.pid)
        assert stand_in.pid not in _leftover_test_dcs()  # its parent is this pytest
    finally:
        stand_in.kill()
        stand_in.wait()
