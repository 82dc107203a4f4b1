"""Report of the last mutation run (scripts/mutation): per module, mutants tried,
killed, survived, equivalent and the score; then every surviving mutant that
changes behaviour, with its diff. Exit status 1 when such a survivor remains,
a selected mutant was not run, or the overall score is under MIN_SCORE.

Run from the repository root after ``mutmut run``; arguments are the mutant-name
globs the run was given (none: every mutated module).

Counting: a mutant is *killed* when a test failed on it, timed out on it (the
mutant made a test hang) or crashed. *Equivalent* mutants are survivors listed
in tests/mutation_equivalents.txt as ``<mutant id> <diff hash> <reason>``: the
diff hash ties the entry to the exact change, so an entry whose mutant moved or
changed no longer excuses anything. Score = killed / (tried - equivalent), the
usual mutation score: an equivalent mutant cannot be killed by any test.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

MIN_SCORE = 95.0
EQUIVALENTS = Path("tests/mutation_equivalents.txt")
MUTANTS = Path("mutants")
PACKAGES = ("domain", "policy", "credentials", "ledger")

KILLED = {1, 3, 24, -24, 152, 255, 36, 37, -9, -11}  # failed, timed out, type error, crashed
SURVIVED = {0, 5, 33}  # tests passed, or no test reaches the mutant
NOT_RUN = {None, 2, 34}


def mutant_diff(name: str, source: Path) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return get_diff_for_mutant(name, path=source)


def diff_hash(diff: str) -> str:
    """Hash of the changed lines only (not line numbers), so that edits elsewhere
    in the file keep a reviewed entry valid."""
    changed = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return hashlib.sha256("\n".join(changed).encode()).hexdigest()[:10]


def load_equivalents() -> dict[str, tuple[str, str]]:
    entries: dict[str, tuple[str, str]] = {}
    if not EQUIVALENTS.exists():
        return entries
    for number, raw in enumerate(EQUIVALENTS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"{EQUIVALENTS}:{number}: expected '<mutant id> <diff hash> <reason>'")
        entries[parts[0]] = (parts[1], parts[2])
    return entries


def main(globs: list[str]) -> int:
    if not MUTANTS.exists():
        print("no mutants/ folder: run scripts/mutation first")
        return 2
    equivalents = load_equivalents()
    rows: dict[str, dict[str, int]] = {}
    survivors: list[tuple[str, Path, int | None]] = []
    equivalent_used: list[str] = []
    stale: list[str] = []
    for meta in sorted(MUTANTS.glob("src/custos/**/*.py.meta")):
        source = meta.relative_to(MUTANTS).with_suffix("")  # src/custos/x/y.py
        module = ".".join(source.with_suffix("").parts[1:])
        if module.split(".")[1] not in PACKAGES:
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        selected = {
            k: v for k, v in codes.items() if not globs or any(fnmatch.fnmatch(k, g) for g in globs)
        }
        if not selected:
            continue
        row = rows.setdefault(
            module, {"tried": 0, "killed": 0, "survived": 0, "equivalent": 0, "not run": 0}
        )
        for name, code in sorted(selected.items()):
            row["tried"] += 1
            if code in KILLED:
                row["killed"] += 1
            elif code in NOT_RUN:
                row["not run"] += 1
            elif name in equivalents:
                if diff_hash(mutant_diff(name, source)) == equivalents[name][0]:
                    row["equivalent"] += 1
                    equivalent_used.append(name)
                else:
                    stale.append(name)
                    row["survived"] += 1
                    survivors.append((name, source, code))
            else:
                row["survived"] += 1
                survivors.append((name, source, code))

    if not rows:
        print("no results for this selection: run scripts/mutation first")
        return 2

    header = (
        f"{'module':<34}{'mutants':>8}{'killed':>8}{'survived':>10}{'equiv.':>8}"
        f"{'not run':>9}{'score':>9}"
    )
    print(header)
    print("-" * len(header))
    totals: dict[str, int] = defaultdict(int)
    by_package: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for module, row in sorted(rows.items()):
        print(_line(module, row))
        for key, value in row.items():
            totals[key] += value
            by_package[module.split(".")[1]][key] += value
    print("-" * len(header))
    for package, row in sorted(by_package.items()):
        print(_line(f"custos.{package}", row))
    print(_line("overall", totals))

    if equivalent_used:
        print(f"\n{len(equivalent_used)} equivalent mutants (reviewed in {EQUIVALENTS}):")
        for name in equivalent_used:
            print(f"  {name}: {equivalents[name][1]}")
    if stale:
        print(f"\nstale entries in {EQUIVALENTS} (the mutant changed; review again):")
        for name in stale:
            print(f"  {name}")
    if survivors:
        unreached = sum(1 for _, _, code in survivors if code in (5, 33))
        print(
            f"\n{len(survivors)} surviving mutants that change behaviour "
            f"({unreached} of them in functions no unit test reaches):"
        )
        for name, source, code in survivors:
            why = "no unit test reaches it" if code in (5, 33) else "survived"
            diff = mutant_diff(name, source)
            print(f"\n# {name} ({why}; diff hash {diff_hash(diff)})")
            print(diff.rstrip())

    score = _score(totals)
    failed = bool(survivors) or totals["not run"] > 0 or score < MIN_SCORE
    if totals["not run"]:
        idle = [module for module, row in sorted(rows.items()) if row["not run"]]
        print(f"\n{totals['not run']} mutants were not run, in: {', '.join(idle)}")
    verdict = "FAIL" if failed else "ok"
    print(f"\n{verdict}: overall score {score:.1f}% (minimum {MIN_SCORE:.0f}%)")
    return 1 if failed else 0


def _score(row: dict[str, int]) -> float:
    done = row["tried"] - row["not run"] - row["equivalent"]
    return 100.0 * row["killed"] / done if done else 100.0


def _line(name: str, row: dict[str, int]) -> str:
    """One table row; the score of a row with no mutant run is "-", not 100%."""
    done = row["tried"] - row["not run"]
    score = f"{_score(row):>8.1f}%" if done else f"{'-':>9}"
    return (
        f"{name:<34}{row['tried']:>8}{row['killed']:>8}{row['survived']:>10}"
        f"{row['equivalent']:>8}{row['not run']:>9}{score}"
    )


def pending(globs: list[str]) -> int:
    """Print the names of the selected mutants that are not killed and not
    reviewed as equivalent (survivors and mutants not run), one a line: what
    ``scripts/mutation --survivors`` runs again after new tests."""
    equivalents = load_equivalents()
    for meta in sorted(MUTANTS.glob("src/custos/**/*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in sorted(codes.items()):
            if globs and not any(fnmatch.fnmatch(name, g) for g in globs):
                continue
            if code not in KILLED and name not in equivalents:
                print(name)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pending"]:
        sys.exit(pending(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
