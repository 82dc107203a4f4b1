"""The commands the CLI prints (the demo's hints) must run in the user's own
shell: ``custos`` only where that shell finds this very ``custos``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from custos.cli.launcher import custos_command


def script(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "custos"
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def uv_run_env(venv: Path, *shell_path: Path) -> dict[str, str]:
    """What ``uv run`` gives its child: the venv's bin first on PATH."""
    entries = [str(venv / "bin"), *map(str, shell_path)]
    return {
        "PATH": os.pathsep.join(entries),
        "VIRTUAL_ENV": str(venv),
        "UV_RUN_RECURSION_DEPTH": "1",
    }


def test_custos_command_under_uv_run_without_custos_on_shell_path_says_uv_run(
    tmp_path: Path,
) -> None:
    venv = tmp_path / ".venv"
    script(venv / "bin")
    env = uv_run_env(venv, tmp_path / "usr-bin")
    assert custos_command(env=env, argv0=str(venv / "bin" / "custos")) == "uv run custos"


def test_custos_command_under_uv_run_with_activated_venv_says_custos(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    script(venv / "bin")
    # The shell had the venv activated: its bin is on PATH twice.
    env = uv_run_env(venv, venv / "bin", tmp_path / "usr-bin")
    assert custos_command(env=env, argv0="custos") == "custos"


def test_custos_command_under_uv_run_with_another_custos_on_path_says_uv_run(
    tmp_path: Path,
) -> None:
    """A different installation on the shell's PATH would act on other code."""
    venv = tmp_path / ".venv"
    script(venv / "bin")
    script(tmp_path / "elsewhere")
    env = uv_run_env(venv, tmp_path / "elsewhere")
    assert custos_command(env=env, argv0="custos") == "uv run custos"


def test_custos_command_on_path_says_custos(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    script(bin_dir)
    assert custos_command(env={"PATH": str(bin_dir)}, argv0="custos") == "custos"


def test_custos_command_started_by_path_repeats_that_path(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty")}
    assert custos_command(env=env, argv0=".venv/bin/custos") == ".venv/bin/custos"


def test_custos_command_as_module_names_the_interpreter(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty")}
    got = custos_command(env=env, argv0="/src/custos/cli/main.py", executable="/opt/py 3/python")
    assert got == "'/opt/py 3/python' -m custos.cli.main"


def test_custos_command_repeats_global_options_quoted(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    script(bin_dir)
    got = custos_command(["--data-dir", "my data"], env={"PATH": str(bin_dir)}, argv0="custos")
    assert got == "custos --data-dir 'my data'"
