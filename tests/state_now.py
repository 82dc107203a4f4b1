"""The state of a case or campaign read afresh after a call that moves it.

``assert case.state == CaseState.PROOFING`` narrows ``case.state`` for mypy,
and mypy keeps that narrowing across later method calls (``case.record_proof``,
``campaign.resume``...), so a following ``assert case.state ==
CaseState.APPROVED`` looks to it like a comparison that can never be true.
Reading the state through this function gives its declared type again."""

from __future__ import annotations

from typing import Protocol, TypeVar

S_co = TypeVar("S_co", covariant=True)


class Stateful(Protocol[S_co]):
    @property
    def state(self) -> S_co: ...


def state_now(thing: Stateful[S_co]) -> S_co:
    return thing.state
