"""Both faces read a report's period with one rule (docs/reports.md): the
console's form names its fields in the messages, the CLI its options."""

from __future__ import annotations

from datetime import date

import pytest

from custos.domain.errors import InvalidInput
from custos.reports.periods import DEFAULT_DAYS, period_days

TODAY = date(2026, 12, 6)


def test_the_default_is_the_last_30_days_up_to_today() -> None:
    assert period_days(None, None, TODAY) == (date(2026, 11, 7), TODAY)
    assert DEFAULT_DAYS == 30


def test_messages_name_the_fields_of_the_face() -> None:
    with pytest.raises(InvalidInput) as caught:
        period_days("2026-12-01", "2026-11-01", TODAY, names=("'From'", "'To'"))
    assert caught.value.message == "'To' is before 'From'"
    with pytest.raises(InvalidInput) as caught:
        period_days("1.12.2026", None, TODAY, names=("'From'", "'To'"))
    assert caught.value.message == "'From' must be a date like 2026-11-30, not '1.12.2026'"
    with pytest.raises(InvalidInput) as caught:
        period_days(None, "soon", TODAY)
    assert caught.value.message == "--to must be a date like 2026-11-30, not 'soon'"
