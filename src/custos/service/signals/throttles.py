"""Throttles that hold across processes (R-18, R-20, R-21): the rules of
``proofing/rate_rules.py`` applied to the atomic counters of the store.

Every check runs inside a savepoint of the caller's transaction: either all of a
request's counters move, or (when one refuses) none does, so a refused request
never counts as an attempt. Keys name *who* is targeted: ``s:<subject id>`` for
a known subject, or ``a:<keyed digest of the identifier>`` for an identifier that
matches nobody, which is throttled exactly like a real account (R-19).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from custos.domain.authenticator_locks import SIGN_IN_METHOD
from custos.proofing import rate_rules
from custos.proofing.rate_rules import FailureRule, RequestRule
from custos.store.unit_of_work import UnitOfWork

_MAX_KEY = 250


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused: the rule's scope, how long to wait, and whether
    the authenticator is locked (R-18) rather than merely delayed."""

    scope: str
    retry_after_s: int
    locked: bool = False


def subject_who(subject_id: str) -> str:
    return f"s:{subject_id}"


def operator_who(operator_id: str) -> str:
    """An operator signing in to the console (counted apart from subjects)."""
    return f"o:{operator_id}"


def anonymous_who(mac_key: bytes, identifier: str) -> str:
    """A stable, keyed stand-in for an identifier that matches no subject (the
    identifier itself is not kept)."""
    digest = hmac.new(mac_key, identifier.strip().lower().encode(), hashlib.sha256)
    return f"a:{digest.hexdigest()[:32]}"


def _key(*parts: str) -> str:
    key = ":".join(parts)
    if len(key) <= _MAX_KEY:
        return key
    return f"{parts[0]}:h:{hashlib.sha256(key.encode()).hexdigest()}"


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def reserve_proof(
    uow: UnitOfWork, *, who: str, method: str, source: str | None, now: datetime
) -> Refusal | None:
    """Count one proofing attempt (before the evidence is checked) per
    authenticator and source, per authenticator, and per source. Returns None
    when it may go ahead, else the first refusal (and nothing is counted)."""
    src = source or "-"
    savepoint = uow.conn.begin_nested()
    refusal = None
    if source is not None:
        refusal = _request(uow, _key("proof-src", src), rate_rules.PROOFS_PER_SOURCE, now)
    if refusal is None:
        refusal = _failure(
            uow, _key("proof", who, method, src), rate_rules.PER_AUTHENTICATOR_SOURCE, now
        )
    if refusal is None:
        refusal = _failure(uow, _key("proof", who, method), rate_rules.PER_AUTHENTICATOR, now)
    if refusal is None:
        savepoint.commit()
    else:
        savepoint.rollback()
    return refusal


def admit_proof_source(uow: UnitOfWork, *, source: str | None, now: datetime) -> Refusal | None:
    """Count one proof against the per-source allowance alone, for a flow handle
    that names no live flow: checked before the dummy verification it would
    otherwise cost, so made-up handles cannot buy hashes unthrottled. Nothing to
    count without a source."""
    if source is None:
        return None
    return _request(uow, _key("proof-src", source), rate_rules.PROOFS_PER_SOURCE, now)


def proof_passed(uow: UnitOfWork, *, who: str, method: str, source: str | None) -> None:
    """A success ends the run of consecutive failures for this authenticator, from
    this source and overall. Other sources' counters stay (an attacker's delays
    do not vanish because the real subject succeeded elsewhere)."""
    uow.limits.clear(_key("proof", who, method, source or "-"))
    uow.limits.clear(_key("proof", who, method))


def attempts(uow: UnitOfWork, *, who: str, method: str, source: str | None = None) -> int:
    """Attempts counted for the authenticator (from ``source`` when given)."""
    parts = ("proof", who, method) if source is None else ("proof", who, method, source)
    counter = uow.limits.get(_key(*parts))
    return 0 if counter is None else counter.count


def locked_methods(uow: UnitOfWork, *, who: str, methods: Iterable[str]) -> list[str]:
    """Which of ``methods`` R-18 has locked for ``who``, and ``password`` when its
    sign-in is locked (docs/abuse-resistance.md)."""
    lock_at = rate_rules.PER_AUTHENTICATOR.lock_at
    assert lock_at is not None
    keys = {method: _key("proof", who, method) for method in methods}
    keys[SIGN_IN_METHOD] = _key("signin", who)
    locked = []
    for method, key in keys.items():
        counter = uow.limits.get(key)
        if counter is not None and counter.count >= lock_at:
            locked.append(method)
    return locked


def lift_lock(uow: UnitOfWork, *, who: str, method: str) -> None:
    """End ``who``'s run of failures on ``method`` (``password``: at sign-in), which
    lifts its R-18 lock; the per-source delays stay. The caller has decided
    that a fresh proof allows it (R-5)."""
    uow.limits.clear(
        _key("signin", who) if method == SIGN_IN_METHOD else _key("proof", who, method)
    )


def reserve_sign_in(
    uow: UnitOfWork, *, who: str, source: str | None, now: datetime, names_account: bool
) -> Refusal | None:
    """Count one sign-in attempt (before the password or second factor is
    checked) per (subject, source), per subject and, for the password step that
    names an account (``names_account``), per source across subjects. ``who`` is
    a subject or the keyed stand-in of an identifier that matches nobody, which
    is counted exactly alike (R-19). Returns None when it may go ahead, else the
    first refusal (and nothing is counted)."""
    src = source or "-"
    savepoint = uow.conn.begin_nested()
    refusal = None
    if names_account and source is not None:
        refusal = _request(uow, _key("signin-src", src), rate_rules.SIGN_INS_PER_SOURCE, now)
    if refusal is None:
        refusal = _failure(uow, _key("signin", who, src), rate_rules.PER_AUTHENTICATOR_SOURCE, now)
    if refusal is None:
        refusal = _failure(uow, _key("signin", who), rate_rules.PER_AUTHENTICATOR, now)
    if refusal is None:
        savepoint.commit()
    else:
        savepoint.rollback()
    return refusal


def sign_in_passed(uow: UnitOfWork, *, who: str, source: str | None) -> None:
    """A complete sign-in ends the run of failures from this source and overall;
    other sources' delays stay (as for proofing)."""
    uow.limits.clear(_key("signin", who, source or "-"))
    uow.limits.clear(_key("signin", who))


def admit_send(uow: UnitOfWork, *, who: str, source: str | None, now: datetime) -> Refusal | None:
    """Count one code send (email or SMS) per (subject, source), per subject and
    per source (R-20). Returns None when it may go, else the refusal (nothing
    counted); the caller audits the suppression (R-21)."""
    src = source or "-"
    checks = [
        (_key("send", who, src), rate_rules.SENDS_PER_SUBJECT_SOURCE),
        (_key("send", who), rate_rules.SENDS_PER_SUBJECT),
    ]
    if source is not None:
        checks.append((_key("send-src", src), rate_rules.SENDS_PER_SOURCE))
    savepoint = uow.conn.begin_nested()
    for key, rule in checks:
        refusal = _request(uow, key, rule, now)
        if refusal is not None:
            savepoint.rollback()
            return refusal
    savepoint.commit()
    return None


def admit_start(uow: UnitOfWork, *, source: str | None, now: datetime) -> Refusal | None:
    """Count one recovery start from ``source`` (nothing to count without one)."""
    if source is None:
        return None
    return _request(uow, _key("start-src", source), rate_rules.STARTS_PER_SOURCE, now)


def admit_sso_start(uow: UnitOfWork, *, source: str | None, now: datetime) -> Refusal | None:
    """Count one console single sign-on start from ``source``."""
    if source is None:
        return None
    return _request(uow, _key("sso-src", source), rate_rules.SSO_STARTS_PER_SOURCE, now)


def _failure(uow: UnitOfWork, key: str, rule: FailureRule, now: datetime) -> Refusal | None:
    count = uow.limits.reserve_attempt(key, now=now, max_count=rule.lock_at)
    if count is not None:
        delay = rule.delay_after(count)
        if delay:
            uow.limits.delay_next(key, until=now + delay)
        return None
    counter = uow.limits.get(key)
    assert counter is not None  # a refusal means the row exists
    if rule.lock_at is not None and counter.count >= rule.lock_at:
        return Refusal(rule.scope, _seconds(rule.max_delay), locked=True)
    return Refusal(rule.scope, _seconds(counter.not_before - now))


def _request(uow: UnitOfWork, key: str, rule: RequestRule, now: datetime) -> Refusal | None:
    count = uow.limits.take_request(
        key, now=now, window=rule.window, free=rule.free, spacing=rule.spacing
    )
    if count is not None:
        return None
    counter = uow.limits.get(key)
    assert counter is not None
    wait = min(counter.not_before - now, counter.window_start + rule.window - now)
    return Refusal(rule.scope, _seconds(wait))
