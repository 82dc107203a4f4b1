"""The catalogue of proofing methods: one entry per method module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from custos.domain.recovery_rules import ProofKind


@dataclass(frozen=True, slots=True)
class ProofingMethodInfo:
    """What policy needs to know about a proofing method."""

    name: str
    phishing_resistant: bool
    description: str
    #: What the evidence is, for the 800-63B-4 recovery rules (domain/recovery_rules.py).
    kind: ProofKind = ProofKind.AUTHENTICATOR


METHODS: Final[dict[str, ProofingMethodInfo]] = {
    "totp": ProofingMethodInfo(
        name="totp",
        phishing_resistant=False,
        description="Time-based one-time password from an enrolled authenticator app.",
        kind=ProofKind.AUTHENTICATOR,
    ),
    "recovery_code": ProofingMethodInfo(
        name="recovery_code",
        phishing_resistant=False,
        description="One of the saved recovery codes given to the subject at enrolment.",
        kind=ProofKind.SAVED_CODE,
    ),
    "email_code": ProofingMethodInfo(
        name="email_code",
        phishing_resistant=False,
        description="One-time code sent to a confirmed recovery email address.",
        kind=ProofKind.ISSUED_CODE,
    ),
    "sms_code": ProofingMethodInfo(
        name="sms_code",
        phishing_resistant=False,
        description="One-time code texted to a confirmed phone number through the SMS "
        "gateway; 10 minutes, refused after a SIM swap (R-13, R-15, R-44).",
        kind=ProofKind.ISSUED_CODE,
    ),
    "webauthn": ProofingMethodInfo(
        name="webauthn",
        phishing_resistant=True,
        description="Assertion of an enrolled WebAuthn authenticator (security key, passkey).",
        kind=ProofKind.AUTHENTICATOR,
    ),
    "reproofing": ProofingMethodInfo(
        name="reproofing",
        phishing_resistant=False,
        description="Signed identity-verification result (JWT) from a configured provider "
        "at the account's IAL, with matching core attributes (R-4, R-9..R-11).",
        kind=ProofKind.REPROOFING,
    ),
    "manager_attestation": ProofingMethodInfo(
        name="manager_attestation",
        phishing_resistant=False,
        description="The subject's manager (or a contractor's sponsor) attests the request "
        "through an out-of-band link bound to the case.",
        kind=ProofKind.ASSISTED,
    ),
    "agent_challenge": ProofingMethodInfo(
        name="agent_challenge",
        phishing_resistant=False,
        description="A help-desk agent triggers a challenge the subject answers on their own "
        "device; the agent sees only pass, fail or pending (R-21, R-45).",
        kind=ProofKind.ASSISTED,
    ),
}
