"""Proofing methods: how a subject proves control during a recovery case.

Methods are pluggable, one module each (``totp``, ``recovery_code``,
``email_code``, ...), and each is listed once in :data:`custos.proofing.base.METHODS`.
``throttle`` holds the failure and delay rules shared by every method (R-18).
Everything here is pure: no I/O, no logging; stores and clocks are the caller's.
"""
