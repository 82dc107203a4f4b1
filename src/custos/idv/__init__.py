"""Identity-verification providers: the JWKS of each configured provider and
the verification of the signed results (JWT) they issue, for re-proofing.

This package does I/O (it reads JWKS files and fetches JWKS over https); the
rules a verified result must meet are pure, in :mod:`custos.proofing.reproofing`.
"""
