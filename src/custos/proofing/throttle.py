"""Pure throttling rules for proofing attempts (R-18, R-20).

Counted per method and per subject: consecutive failures grow a delay before
the next attempt (none for the first 3, then 1 s doubling up to 15 min), and
after 100 consecutive failures the method is locked for that subject. The
account itself is never locked; other methods stay usable. A success resets the
count; issuing a new code does not (R-15).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

from custos.domain.errors import Throttled

MAX_CONSECUTIVE_FAILURES: Final = 100
FREE_FAILURES: Final = 3
FIRST_DELAY: Final = timedelta(seconds=1)
MAX_DELAY: Final = timedelta(minutes=15)
LOCKED_RETRY_AFTER_SECONDS: Final = 900


def delay_after(failures: int) -> timedelta:
    """Return the wait required after ``failures`` consecutive failures.

    0 for up to 3 failures, then 1 s, 2 s, 4 s, ... capped at 15 minutes.
    Raises ValueError when ``failures`` is negative.
    """
    if failures < 0:
        raise ValueError("failures must not be negative")
    if failures <= FREE_FAILURES:
        return timedelta(0)
    exponent = min(failures - FREE_FAILURES - 1, 20)
    delay: timedelta = FIRST_DELAY * (2**exponent)
    return min(delay, MAX_DELAY)


def check_attempt(failures: int, last_failure_at: datetime | None, now: datetime) -> None:
    """Return None when an attempt may be made now.

    Raises Throttled (``retry_after_seconds`` >= 1, rounded up) while the delay
    after the last failure has not elapsed, and Throttled with
    ``retry_after_seconds=900`` and ``details["locked"] = True`` once
    ``failures`` >= 100: the method is locked for this subject until an
    operator or another recovery resets it. Without ``last_failure_at`` no delay
    applies. A ``last_failure_at`` in the future waits the full delay.
    """
    if failures >= MAX_CONSECUTIVE_FAILURES:
        raise Throttled(
            "too many consecutive failures: this method is locked for this subject; "
            "use another recovery method or ask the help desk",
            retry_after_seconds=LOCKED_RETRY_AFTER_SECONDS,
            locked=True,
        )
    delay = delay_after(failures)
    if not delay or last_failure_at is None:
        return
    remaining = min(delay - (now - last_failure_at), delay)
    if remaining > timedelta(0):
        seconds = max(1, math.ceil(remaining.total_seconds()))
        raise Throttled(
            f"too many failed attempts: try again in {seconds} seconds",
            retry_after_seconds=seconds,
            locked=False,
        )
