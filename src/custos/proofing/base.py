"""The catalogue of proofing methods: one entry per method module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ProofingMethodInfo:
    """What policy needs to know about a proofing method."""

    name: str
    phishing_resistant: bool
    description: str


METHODS: Final[dict[str, ProofingMethodInfo]] = {
    "totp": ProofingMethodInfo(
        name="totp",
        phishing_resistant=False,
        description="Time-based one-time password from an enrolled authenticator app.",
    ),
    "recovery_code": ProofingMethodInfo(
        name="recovery_code",
        phishing_resistant=False,
        description="One of the saved recovery codes given to the subject at enrolment.",
    ),
    "email_code": ProofingMethodInfo(
        name="email_code",
        phishing_resistant=False,
        description="One-time code sent to a confirmed recovery email address.",
    ),
}
