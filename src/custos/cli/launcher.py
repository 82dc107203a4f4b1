"""How to run ``custos`` from the user's own shell, for commands the CLI prints
(the demo's hints). ``uv run custos demo`` puts the project's virtual
environment first on PATH for this process only: the user's shell usually has
no ``custos``, and a printed ``custos outbox`` would fail there."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def custos_command(
    options: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    argv0: str | None = None,
    executable: str | None = None,
) -> str:
    """The shell words that run this same ``custos`` with ``options`` (the global
    ``--config``/``--data-dir`` given to this process):

    - under ``uv run`` (uv sets ``UV_RUN_RECURSION_DEPTH`` and prepends
      ``$VIRTUAL_ENV/bin`` to PATH): ``custos`` when the shell's own PATH (without
      that entry) finds this environment's ``custos``, else ``uv run custos``;
    - otherwise ``custos`` when PATH finds it; else the path this process was
      started with (``.venv/bin/custos``); else ``python -m custos.cli.main``.
    """
    env = os.environ if env is None else env
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    return shlex.join([*_launcher(env, argv0, executable), *options])


def _launcher(env: Mapping[str, str], argv0: str, executable: str) -> list[str]:
    path = env.get("PATH", "")
    venv = env.get("VIRTUAL_ENV")
    if env.get("UV_RUN_RECURSION_DEPTH") and venv:
        ours = Path(venv) / "bin" / "custos"
        entries = path.split(os.pathsep)
        if entries and Path(entries[0]) == ours.parent:
            entries = entries[1:]  # the entry uv run added for this process only
        found = shutil.which("custos", path=os.pathsep.join(entries))
        if found is not None and _same_file(Path(found), ours):
            return ["custos"]
        return ["uv", "run", "custos"]
    if shutil.which("custos", path=path) is not None:
        return ["custos"]
    if Path(argv0).name == "custos":
        return [argv0]
    return [executable, "-m", "custos.cli.main"]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
