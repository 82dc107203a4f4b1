"""Ceremonies: the out-of-band exchanges that prove a person during a case:
manager or sponsor attestation, the agent-run challenge to an enrolled factor,
WebAuthn challenges and credentials, and re-proofing with an IDV provider."""
