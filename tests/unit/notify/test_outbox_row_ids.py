"""Outbox row ids (R-22: the sweep sends in the order written): UUID-shaped
(``str(uuid.UUID(...))`` reads them back unchanged), strictly growing in
string order, with a nanosecond stamp as their first half."""

from __future__ import annotations

import time
import uuid

from custos.service.notices.outbox import _row_id


def test_row_ids_are_uuids_that_sort_in_the_order_written() -> None:
    before = time.time_ns()
    ids = [_row_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for row_id in ids:
        parsed = uuid.UUID(row_id)
        assert str(parsed) == row_id
        assert parsed.int >> 64 >= before
