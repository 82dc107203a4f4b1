"""NIST SP 800-63B-4 §4.2 account-recovery rules, as pure functions.

Every proofing method belongs to one :class:`ProofKind`. A tier may state the
AAL of the accounts it recovers; the rules below decide which combinations of
passed proofs make a *recovery* at that AAL (rather than a mere step-up):

- **AAL1** (R-1): only a saved recovery code, an issued recovery code or a
  recovery contact (here: the issued code sent to a confirmed contact).
- **AAL2** (R-2): a repeated identity proofing; or two codes from different
  methods; or one code plus a still-bound single-factor authenticator. One
  code alone is not a recovery.
- **AAL3** (R-3): only repeated identity proofing, attended, at IAL3 (the
  re-proofing verification refuses remote unattended IAL3 results, R-11); no
  self-service channel.

Help-desk ("assisted") methods count toward a tier's ``factors`` but never
make an R-2 or R-3 combination on their own; a tier offering them, or the
help-desk channel, must reference a documented risk analysis (R-1).

:func:`tier_problems` checks a tier's configuration (used by the policy
schema); :func:`recovery_complete` checks a case's passed proofs at run time
(used by ``Case.proofing_satisfied``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final


class ProofKind(StrEnum):
    """What kind of evidence a proofing method yields."""

    SAVED_CODE = "saved_code"  # a recovery code the subject saved at enrolment
    ISSUED_CODE = "issued_code"  # a code issued to a confirmed recovery contact
    AUTHENTICATOR = "authenticator"  # a still-bound authenticator (TOTP, WebAuthn)
    REPROOFING = "reproofing"  # repeated identity proofing
    ASSISTED = "assisted"  # help-desk methods: manager attestation, agent challenge


CODE_KINDS: Final = frozenset({ProofKind.SAVED_CODE, ProofKind.ISSUED_CODE})
#: R-1: the only kinds an AAL1 account recovers with.
AAL1_KINDS: Final = CODE_KINDS
AALS: Final = (1, 2, 3)
IALS: Final = (1, 2, 3)
SELF_SERVICE: Final = "self_service"
HELPDESK: Final = "helpdesk"


def recovery_complete(aal: int | None, passed: Iterable[tuple[str, ProofKind | None]]) -> bool:
    """Whether the passed proofs, as ``(method, kind)`` pairs, make a recovery
    at ``aal`` (see the module rules). ``aal`` None: the tier states no AAL and
    no combination rule applies (True). A kind of None counts as ASSISTED."""
    if aal is None:
        return True
    proofs = [(method, kind or ProofKind.ASSISTED) for method, kind in passed]
    kinds = {kind for _, kind in proofs}
    if aal == 1:
        return bool(kinds & AAL1_KINDS)
    if aal == 2:
        code_methods = {method for method, kind in proofs if kind in CODE_KINDS}
        return (
            ProofKind.REPROOFING in kinds
            or len(code_methods) >= 2
            or (bool(code_methods) and ProofKind.AUTHENTICATOR in kinds)
        )
    return ProofKind.REPROOFING in kinds


def tier_problems(
    *,
    aal: int | None,
    methods: Mapping[str, ProofKind],
    factors: int,
    channels: Iterable[str],
    min_ial: int | None,
    risk_analysis: str | None,
) -> list[tuple[str, str]]:
    """The 800-63B-4 violations of one tier, as ``(key, reason)`` pairs (empty
    when the tier is sound). ``methods`` maps each listed method to its kind."""
    problems: list[tuple[str, str]] = []
    channel_set = set(channels)
    kinds = set(methods.values())
    assisted = sorted(m for m, k in methods.items() if k == ProofKind.ASSISTED)
    if (HELPDESK in channel_set or assisted) and not (risk_analysis or "").strip():
        why = "the help-desk channel" if HELPDESK in channel_set else ", ".join(assisted)
        problems.append(
            ("risk_analysis", f"{why} needs a documented risk analysis reference (R-1)")
        )
    if min_ial is not None and ProofKind.REPROOFING not in kinds:
        problems.append(("proofing", "min_ial needs 'reproofing' among the methods (R-4)"))
    if aal == 1:
        wrong = sorted(m for m, k in methods.items() if k not in AAL1_KINDS)
        if wrong:
            problems.append(
                (
                    "proofing",
                    "an AAL1 tier recovers only by saved code, issued code or recovery "
                    f"contact; remove {', '.join(wrong)} (R-1)",
                )
            )
    elif aal == 2:
        codes = [m for m, k in methods.items() if k in CODE_KINDS]
        possible = (
            ProofKind.REPROOFING in kinds
            or len(codes) >= 2
            or (bool(codes) and ProofKind.AUTHENTICATOR in kinds)
        )
        if not possible:
            problems.append(
                (
                    "proofing",
                    "an AAL2 tier needs two code methods, a code and an authenticator, "
                    "or reproofing among its methods (R-2)",
                )
            )
        elif factors < 2 and ProofKind.REPROOFING not in kinds:
            problems.append(
                (
                    "proofing",
                    "one code alone is a step-up, not an AAL2 recovery: factors >= 2 (R-2)",
                )
            )
    elif aal == 3:
        if SELF_SERVICE in channel_set:
            problems.append(
                ("channels", "an AAL3 tier recovers only attended: remove self_service (R-3)")
            )
        if ProofKind.REPROOFING not in kinds or min_ial != 3:
            problems.append(
                (
                    "proofing",
                    "an AAL3 tier needs 'reproofing' with min_ial 3 "
                    "(attended, biometric comparison) (R-3, R-11)",
                )
            )
    return problems
