"""The previous release, taken from git history, for the upgrade tests.

There are no release tags yet, so the previous release is defined by the
migrations: it is the newest commit on the first-parent history whose migration
files are all, byte for byte, in the tree under test, and fewer of them. Its
schema is therefore a revision of the current chain, and the migrations the tree
under test adds are exactly what an upgrade from it runs (docs/operations.md,
"Upgrades"). CI checks out the full history (a plain ``git clone``); a shallow
clone without that commit fails the test, it never skips.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERSIONS = "src/custos/store/migrations/versions"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout


def _blob_id(data: bytes) -> str:
    """Git's id of a blob with this content (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def migrations_in_tree() -> dict[str, str]:
    """The tree under test's migration files (working tree, so uncommitted ones
    count): name -> blob id."""
    folder = REPO / VERSIONS
    return {p.name: _blob_id(p.read_bytes()) for p in sorted(folder.glob("*.py"))}


def migrations_at(commit: str) -> dict[str, str]:
    """The migration files of ``commit``: name -> blob id."""
    out = _git("ls-tree", commit, f"{VERSIONS}/")
    files: dict[str, str] = {}
    for line in out.splitlines():
        meta, path = line.split("\t", 1)
        if path.endswith(".py"):
            files[Path(path).name] = meta.split()[2]
    return files


def previous_release() -> str:
    """The commit id of the previous release (module docstring); raises
    AssertionError when the history holds none (a shallow clone)."""
    current = set(migrations_in_tree().items())
    changes = _git("log", "--first-parent", "--format=%H", "HEAD", "--", VERSIONS).split()
    for change in changes:
        parents = _git("log", "-1", "--format=%P", change).split()
        if not parents:
            continue
        before = parents[0]
        files = set(migrations_at(before).items())
        if files < current:
            return before
    raise AssertionError(
        "no previous release in the git history: is this a shallow clone? "
        f"(is-shallow-repository: {_git('rev-parse', '--is-shallow-repository').strip()})"
    )


def extract(commit: str, destination: Path) -> Path:
    """Write ``commit``'s src/ and tests/ under ``destination`` (``git archive``);
    returns ``destination``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "src", "tests"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return destination


def env_for(code: Path | None) -> dict[str, str]:
    """The environment of a process running ``code``'s src/ and tests/ (the old
    release) with this venv's packages; ``None``: the tree under test. No
    ``CUSTOS_*`` settings of the caller leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env.pop("PYTHONPATH", None)
    if code is not None:
        env["PYTHONPATH"] = f"{code / 'src'}{os.pathsep}{code / 'tests'}"
    env["COLUMNS"] = "200"
    return env


def run_python(code: Path | None, source: str, cwd: Path) -> str:
    """Run ``source`` with ``code``'s Custos; returns its stdout, raises with its
    output when it fails."""
    done = subprocess.run(
        [sys.executable, "-c", source],
        cwd=cwd,
        env=env_for(code),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{source}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def columns_read_by(code: Path, cwd: Path) -> dict[str, list[str]]:
    """Every table and column ``code``'s Custos declares (so reads or writes)."""
    source = (
        "import json, custos.store.tables as t\n"
        "print(json.dumps({n: [c.name for c in tb.columns] "
        "for n, tb in t.metadata.tables.items()}))"
    )
    return dict(json.loads(run_python(code, source, cwd)))
