"""Risk v1: add up the signals of a request into a domain :class:`RiskAssessment`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from custos.domain.model import RiskAssessment
from custos.risk.signals import DEFAULT_SIGNALS, RiskContext, Signal, SignalProvider

SCORE_MIN, SCORE_MAX = 0, 100


def collect(ctx: RiskContext, signals: Iterable[SignalProvider] = DEFAULT_SIGNALS) -> list[Signal]:
    """The signals that fire for ``ctx``, in provider order."""
    return [signal for provider in signals if (signal := provider(ctx)) is not None]


def assess(
    ctx: RiskContext,
    band_of: Callable[[int], str],
    signals: Iterable[SignalProvider] = DEFAULT_SIGNALS,
) -> RiskAssessment:
    """Score ``ctx``: the sum of the fired signals' points, clamped to 0..100.

    ``band_of`` names the band of a score (normally ``policy.engine.band_for``
    bound to the active policy). Reasons read ``"<reason> (+<points>)"`` in
    provider order; no fired signal gives score 0 and no reasons.
    """
    return score(collect(ctx, signals), band_of)


def score(fired: Iterable[Signal], band_of: Callable[[int], str]) -> RiskAssessment:
    """The assessment of signals that already fired (see :func:`assess`)."""
    fired = list(fired)
    total = max(SCORE_MIN, min(SCORE_MAX, sum(s.points for s in fired)))
    return RiskAssessment(
        score=total,
        band=band_of(total),
        reasons=tuple(f"{s.reason} ({s.points:+d})" for s in fired),
    )
