"""When a security webhook whose post failed is tried again (R-22,
``service/notices/webhooks.py``): as long as it has waited, between 30 s and
an hour, and never once it was queued a day ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custos.service.notices.webhooks import FIRST_RETRY, LONGEST_WAIT, RETRY_FOR, next_try
from custos.store.outbox_repository import OutboxRow

QUEUED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ROW = OutboxRow("row-1", "webhook", None, b"sealed", QUEUED)


def test_the_first_retry_waits_the_minimum() -> None:
    assert next_try(ROW, QUEUED) == QUEUED + FIRST_RETRY


def test_the_wait_doubles_with_the_age_up_to_an_hour() -> None:
    ten_minutes = QUEUED + timedelta(minutes=10)
    assert next_try(ROW, ten_minutes) == ten_minutes + timedelta(minutes=10)
    five_hours = QUEUED + timedelta(hours=5)
    assert next_try(ROW, five_hours) == five_hours + LONGEST_WAIT


def test_a_webhook_queued_a_day_ago_is_given_up() -> None:
    assert next_try(ROW, QUEUED + RETRY_FOR - timedelta(seconds=1)) is not None
    assert next_try(ROW, QUEUED + RETRY_FOR) is None
