"""Benchmark: how long a ``custos`` command takes to answer, against a bare
``python -c pass`` of the same interpreter, measured in the same run.

Seeds the demo's organisation into a temporary data folder (32 subjects, 8
operators) and opens a few help-desk cases, then times, interleaved, each
command as a user runs it (a new process of the environment's ``custos``
script):

- ``python -c pass``: the interpreter's own start, the baseline;
- ``custos --help``: target at most 5x the baseline;
- ``custos --data-dir D case list``: target at most 15x the baseline;
- for reference, the floor each command cannot go below: importing typer (what
  ``--help`` needs), and typer with pydantic-settings and SQLAlchemy (what any
  command reading the store needs: its configuration and its database).

Python caches compiled modules (``.pyc``) at the first start; an environment
with ``PYTHONDONTWRITEBYTECODE=1`` never writes them, so every start compiles
every module of the virtual environment again (the interpreter's own library
comes compiled). Two measurements:

- "compiled": the bytecode of a first run is cached in a fresh folder
  (``PYTHONPYCACHEPREFIX``, removed afterwards), as after any normal start;
- "as this shell runs it": only when ``PYTHONDONTWRITEBYTECODE`` is set here,
  the environment unchanged.

    uv run python bench/cli.py          # 11 repetitions
    uv run python bench/cli.py -n 25
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custos import logs
from custos.bootstrap import bootstrap
from custos.config import load_settings
from custos.demo import seed as seeding
from custos.service.recovery.cases import open_helpdesk_case
from custos.service.recovery.operators import authenticate

TARGETS = {"custos --help": 5.0, "custos case list": 15.0}
CASES = 12


def seed_demo(folder: Path) -> int:
    """The demo's organisation and ``CASES`` open help-desk cases in ``folder``;
    returns the number of cases."""
    settings = load_settings(None, data_dir=folder)
    svc = bootstrap(settings, migrate=True, create_key=True)
    result = seeding.seed(svc)
    operator = authenticate(svc, result.operator_tokens["helpdesk.hana"])
    for subject in seeding.STAFF[:CASES]:
        open_helpdesk_case(svc, operator, subject_id=subject, reason="caller locked out")
    svc.engine.dispose()
    return CASES


FLOORS = {
    "floor: typer": "import typer",
    # typer._adapters: typer loads it (and pydantic) to parse any command's options
    "floor: +settings+db": "import typer, typer._adapters, pydantic_settings, sqlalchemy",
}


def commands(data: Path) -> dict[str, list[str]]:
    script = str(Path(sys.executable).parent / "custos")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "custos --help": [script, "--help"],
        "custos case list": [script, "--data-dir", str(data), "case", "list"],
        **{name: [sys.executable, "-c", code] for name, code in FLOORS.items()},
    }


def environment(cache: Path | None) -> dict[str, str]:
    """This shell's environment without Custos settings; with ``cache``, bytecode
    is written to and read from that folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["COLUMNS"] = "100"
    if cache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(cache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
    return elapsed


def measure(
    argvs: dict[str, list[str]], env: dict[str, str], cwd: Path, reps: int, *, warm: bool
) -> dict[str, list[float]]:
    if warm:  # one start writes the bytecode every later start reads
        for argv in argvs.values():
            run_once(argv, env, cwd)
    samples: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(reps):  # interleaved: a load change hits every command alike
        for name, argv in argvs.items():
            samples[name].append(run_once(argv, env, cwd))
    return samples


def report(title: str, samples: dict[str, list[float]]) -> None:
    base = statistics.median(samples["python -c pass"])
    print(f"\n{title}")
    print(f"{'command':<22}{'median ms':>11}{'min ms':>9}{'x python':>10}   target")
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.0f}x: {'OK' if ratio <= target else 'OVER TARGET'}"
        print(f"{name:<22}{median * 1e3:>11.1f}{min(values) * 1e3:>9.1f}{ratio:>10.1f}   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=11, help="repetitions of each command")
    args = parser.parse_args()
    logs.configure("warning")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cases = seed_demo(root / "data")
        argvs = commands(root / "data")
        print(
            f"custos CLI start-up, {args.n} runs each, interleaved; demo data with {cases} "
            f"cases; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        compiled = measure(argvs, environment(root / "pyc"), root, args.n, warm=True)
        report("compiled (bytecode cached, as after any normal start):", compiled)
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            as_is = measure(argvs, environment(None), root, args.n, warm=False)
            report("as this shell runs it (PYTHONDONTWRITEBYTECODE is set):", as_is)
        else:
            print("\n(PYTHONDONTWRITEBYTECODE is not set here: this shell runs compiled)")


if __name__ == "__main__":
    main()
