"""The throttle rules as data (R-18, R-20)."""

from __future__ import annotations

from datetime import timedelta

from custos.proofing import rate_rules
from custos.proofing.email_code import code_digest as email_digest
from custos.proofing.sms_code import CODE_TTL, code_digest, code_matches


def test_per_source_delays_grow_after_three_failures() -> None:
    rule = rate_rules.PER_AUTHENTICATOR_SOURCE
    assert [rule.delay_after(n).total_seconds() for n in range(1, 8)] == [0, 0, 0, 1, 2, 4, 8]
    assert rule.delay_after(60) == timedelta(minutes=15)
    assert rule.lock_at is None


def test_per_authenticator_ceiling_only_delays_gently_then_locks_at_100() -> None:
    """R-18: at most 100 consecutive failures per authenticator; below that the
    all-sources counter never waits more than a minute."""
    rule = rate_rules.PER_AUTHENTICATOR
    assert rule.delay_after(20) == timedelta(0)
    assert rule.delay_after(99) == timedelta(seconds=60)
    assert rule.lock_at == 100


def test_subject_send_ceiling_spaces_sends_rather_than_stopping_them() -> None:
    """R-20: the per-subject limit spaces codes out; it never refuses for longer
    than its spacing."""
    rule = rate_rules.SENDS_PER_SUBJECT
    assert rule.spacing <= timedelta(minutes=2) < rule.window


def test_sms_code_lives_ten_minutes_and_is_bound_to_case_and_channel() -> None:
    """R-13, R-15: 10 minutes; bound to the case; an email digest never matches."""
    key = b"k" * 32
    assert timedelta(minutes=10) == CODE_TTL
    digest = code_digest(key, case_id="case-1", code="12345678")
    assert code_matches(key, case_id="case-1", code="1234 5678", digest=digest)
    assert not code_matches(key, case_id="case-2", code="12345678", digest=digest)
    email = email_digest(key, case_id="case-1", code="12345678")
    assert not code_matches(key, case_id="case-1", code="12345678", digest=email)
