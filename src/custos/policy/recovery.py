"""The 800-63B-4 recovery rules applied to one policy tier (R-1, R-2, R-3).

The rules themselves live in :mod:`custos.domain.recovery_rules`; this module
hands them a tier's keys and turns their answers into schema violations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custos.domain.model import CredentialAction
from custos.domain.recovery_rules import tier_problems
from custos.proofing.base import METHODS

if TYPE_CHECKING:
    from custos.policy.schema import RuleViolation, Tier


def recovery_violations(tier: Tier) -> list[RuleViolation]:
    """The recovery-rule violations of ``tier``; none for a block tier or one
    whose proofing is missing (other rules report that)."""
    from custos.policy.schema import RuleViolation

    if tier.action == CredentialAction.BLOCK or tier.proofing is None:
        return []
    problems = tier_problems(
        aal=tier.aal,
        methods={m: METHODS[m].kind for m in tier.proofing.methods},
        factors=tier.proofing.factors,
        channels=[str(c) for c in tier.channels or ()],
        min_ial=tier.proofing.min_ial,
        risk_analysis=tier.risk_analysis,
    )
    return [RuleViolation((key,), reason) for key, reason in problems]
