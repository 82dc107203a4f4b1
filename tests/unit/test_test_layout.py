"""The test tree's own layout: rules pytest enforces only at collection time,
checked here so that a clash names itself instead of stopping the whole run."""

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_basename() -> None:
    """The test folders are not packages (rootdir-relative imports), so two
    modules with the same file name stop collection with "import file
    mismatch": the whole suite then runs nothing."""
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        if "node_modules" in path.parts:
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert clashes == {}
    assert len(seen) > 100  # the walk found the suite
