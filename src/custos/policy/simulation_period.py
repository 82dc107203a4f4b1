"""The period a policy simulation replays, from what a person typed: both faces
(``custos policy simulate --since/--until``, the console's policy page) read it
here, so the default and the spellings are one rule (docs/policy.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from custos.domain.errors import InvalidInput
from custos.policy.schema import parse_duration

#: Without ``--since``, a simulation replays the cases of the last 30 days.
DEFAULT_SINCE = "30d"
#: The longest spelling either bound may have.
MAX_LENGTH = 40
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def simulation_period(
    since: str | None,
    until: str | None,
    now: datetime,
    *,
    names: tuple[str, str] = ("--since", "--until"),
) -> tuple[datetime, datetime]:
    """The start (included) and end (excluded) of the period, in UTC.

    Each bound is a duration back from ``now`` (``30d``, ``12h``, ``1d12h``), a
    day (``2026-11-01``: its start for ``since``; for ``until`` the day is
    included, so its end) or a time (``2026-11-01T08:00Z``; without a zone, UTC).
    ``since`` defaults to :data:`DEFAULT_SINCE`, ``until`` to ``now``; a bound
    left blank (spaces only, as a form may send it) is absent. ``names``
    are what the face calls the two fields, for the messages. Raises InvalidInput.
    """
    first_name, last_name = names
    start = _bound(since if since and since.strip() else DEFAULT_SINCE, first_name, now, False)
    end = now if until is None or not until.strip() else _bound(until, last_name, now, True)
    if end <= start:
        raise InvalidInput(f"{last_name} must be after {first_name}")
    return start, end


def _bound(value: str, name: str, now: datetime, end_of_day: bool) -> datetime:
    text = value.strip()
    wrong = InvalidInput(
        f"{name} is a duration back from now such as 30d or 12h, a day such as "
        f"2026-11-01, or a time such as 2026-11-01T08:00Z; not '{value[:MAX_LENGTH]}'"
    )
    if not text or len(text) > MAX_LENGTH:
        raise wrong
    if _DAY.fullmatch(text):
        try:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise wrong from None
        return day + timedelta(days=1) if end_of_day else day
    if text[0].isdigit() and text[-1] in "smhd":
        try:
            return now - parse_duration(text)
        except (ValueError, OverflowError):
            raise wrong from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise wrong from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
