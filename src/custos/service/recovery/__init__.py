"""Recovery: the life of a case. Opening (risk, tier, frozen requirements),
operator commands (proof, approve, deny, execute, cancel, retry), self-service
starts and redemptions, proofing verdicts, the one-time credential, the read
models the faces show, and operator accounts."""
