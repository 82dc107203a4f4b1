"""The ``rotation`` section of a ``rotate`` tier (docs/policy.md#rotation): how
Custos generates a service account's secret, how long a target that holds two
credentials keeps the old one, and the longest a credential may live before the
worker opens a rotation case (R-40: no credential without an end)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    model_validator,
)

from custos.policy.durations import parse_duration

#: Letters and digits: accepted by every directory in any password field.
DEFAULT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
#: A generated secret carries at least this many bits (R-17: 112 bits or more
#: need no further hashing defence).
MIN_BITS = 112
#: The longest ``max_age`` a policy may state: a credential never lives unbounded.
MAX_AGE_CAP = timedelta(days=400)
#: The longest grace period: the old credential is revoked within a week.
MAX_GRACE = timedelta(days=7)


Duration = Annotated[timedelta, PlainValidator(parse_duration)]


class Rotation(BaseModel):
    """Secret shape, grace period and maximum age of a service tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    length: Annotated[StrictInt, Field(ge=16, le=256)] = 40
    alphabet: Annotated[StrictStr, Field(min_length=10, max_length=200)] = DEFAULT_ALPHABET
    grace_period: Duration = timedelta(hours=24)
    max_age: Duration = timedelta(days=90)

    @model_validator(mode="after")
    def _strong_and_bounded(self) -> Rotation:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_strong_and_bounded()

    def _check_strong_and_bounded(self) -> Rotation:
        problems: list[str] = []
        if len(set(self.alphabet)) != len(self.alphabet):
            problems.append("rotation.alphabet lists a character twice")
        if any(c.isspace() or not c.isprintable() for c in self.alphabet):
            problems.append("rotation.alphabet may hold printable characters only, no spaces")
        bits = self.length * math.log2(max(len(set(self.alphabet)), 2))
        if bits < MIN_BITS:
            problems.append(
                f"rotation: {self.length} characters of {len(set(self.alphabet))} give "
                f"{bits:.0f} bits; at least {MIN_BITS} are needed"
            )
        if self.max_age > MAX_AGE_CAP:
            problems.append(f"rotation.max_age may be at most {MAX_AGE_CAP.days}d (R-40)")
        if self.grace_period > MAX_GRACE:
            problems.append(f"rotation.grace_period may be at most {MAX_GRACE.days}d")
        if self.grace_period >= self.max_age:
            problems.append("rotation.grace_period must be shorter than rotation.max_age")
        if problems:
            raise ValueError("; ".join(problems))
        return self
