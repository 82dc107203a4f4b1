"""The throttle rules, as data (R-18, R-20, R-21). Pure: the counters live in the
store (``store/rate_limit_repository.py``), the checks in ``service/signals/throttles.py``,
the reasoning in docs/abuse-resistance.md.

Proofing attempts are counted three ways, all before the evidence is checked:

- per authenticator and source (``subject, method, source``): growing delays,
  the brake on one attacker;
- per authenticator (``subject, method``), whatever the source: a ceiling that
  only delays, gently, until the R-18 limit of 100 consecutive failures locks
  that one method (never the account, never another method);
- per source, across subjects: a request window that slows spraying.

Sign-in attempts (the directory password, then a second factor) are counted the
same three ways, the password standing for the authenticator: per (subject,
source) with the steep delays, per subject with the gentle ceiling and R-18's
lock, and per source across subjects against password spraying (only the
password step, the one that names an account).

Code sends (email, SMS) are request windows: per (subject, source), per subject
(a ceiling that only spaces sends out, so someone else's flood never stops the
real subject's code), and per source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from custos.proofing import throttle


@dataclass(frozen=True, slots=True)
class FailureRule:
    """Consecutive failures under one key: none delayed up to ``free``, then
    ``first_delay`` doubling up to ``max_delay``; ``lock_at`` failures refuse
    every further attempt until a success (None: never)."""

    scope: str
    free: int
    first_delay: timedelta
    max_delay: timedelta
    lock_at: int | None = None

    def delay_after(self, failures: int) -> timedelta:
        """The wait before the next attempt after ``failures`` counted ones."""
        if failures <= self.free:
            return timedelta(0)
        exponent = min(failures - self.free - 1, 30)
        grown = timedelta(seconds=self.first_delay.total_seconds() * (1 << exponent))
        return min(grown, self.max_delay)


@dataclass(frozen=True, slots=True)
class RequestRule:
    """Requests under one key in a fixed ``window``: ``free`` pass, then at most
    one per ``spacing``."""

    scope: str
    window: timedelta
    free: int
    spacing: timedelta


#: One attacker (one source) against one authenticator: the steep brake.
PER_AUTHENTICATOR_SOURCE: Final = FailureRule(
    "authenticator_source",
    free=throttle.FREE_FAILURES,
    first_delay=throttle.FIRST_DELAY,
    max_delay=throttle.MAX_DELAY,
)
#: All sources against one authenticator: only delays, gently, then R-18's lock.
PER_AUTHENTICATOR: Final = FailureRule(
    "authenticator",
    free=20,
    first_delay=timedelta(seconds=1),
    max_delay=timedelta(seconds=60),
    lock_at=throttle.MAX_CONSECUTIVE_FAILURES,
)
#: One source against any accounts (password-spraying style guessing).
PROOFS_PER_SOURCE: Final = RequestRule(
    "source", window=timedelta(hours=1), free=60, spacing=timedelta(seconds=10)
)

#: Password sign-ins one source may try across subjects (password spraying).
#: A subject signs in rarely (to manage their own methods): 30 an hour from one
#: address is far more than people behind one gateway need, then one per 10 s.
SIGN_INS_PER_SOURCE: Final = RequestRule(
    "source", window=timedelta(hours=1), free=30, spacing=timedelta(seconds=10)
)

#: Codes one source may have sent to one subject (R-20).
SENDS_PER_SUBJECT_SOURCE: Final = RequestRule(
    "subject_source", window=timedelta(minutes=15), free=3, spacing=timedelta(minutes=5)
)
#: Codes sent to one subject from anywhere: a ceiling that only spaces sends.
SENDS_PER_SUBJECT: Final = RequestRule(
    "subject", window=timedelta(hours=1), free=6, spacing=timedelta(minutes=2)
)
#: Codes one source may trigger across subjects (inbox/SMS flooding by spraying).
SENDS_PER_SOURCE: Final = RequestRule(
    "source", window=timedelta(hours=1), free=20, spacing=timedelta(minutes=1)
)
#: Recovery starts from one source (answered 429 alike for every identifier).
STARTS_PER_SOURCE: Final = RequestRule(
    "source", window=timedelta(hours=1), free=60, spacing=timedelta(seconds=5)
)
#: Console single sign-on starts from one source: each stores an attempt for ten
#: minutes, so an unauthenticated flood is bounded by this rule.
SSO_STARTS_PER_SOURCE: Final = RequestRule(
    "source", window=timedelta(minutes=10), free=30, spacing=timedelta(seconds=2)
)
