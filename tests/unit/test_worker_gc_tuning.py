"""What ``custos worker`` does to the garbage collector in its own process
(``bootstrap.settle_heap`` then ``tune_gc``): the objects startup built are
frozen, the young generation is collected every ``GC_YOUNG_THRESHOLD``
allocations, the older thresholds are kept, and garbage in reference cycles is
still collected. Run in a child process: the collector's settings are
process-wide."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc, weakref
from custos.bootstrap import settle_heap
from custos.propagation.worker import GC_YOUNG_THRESHOLD, tune_gc

before = gc.get_threshold()
settle_heap()
tune_gc()
after = gc.get_threshold()
assert after == (GC_YOUNG_THRESHOLD, before[1], before[2]), (before, after)
assert gc.get_freeze_count() > 0

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)

gone = cycle()
assert gone() is not None  # only a collection frees a cycle
keep = [[] for _ in range(3 * GC_YOUNG_THRESHOLD)]  # allocations drive collections
assert gone() is None
print("ok")
"""


def test_tune_gc_freezes_startup_raises_the_young_threshold_and_still_collects_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
