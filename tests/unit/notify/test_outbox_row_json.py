"""What an outbox row seals (``outbox._plain``) is byte for byte the JSON it
sealed before: ``json.dumps(asdict(message), separators=(",", ":"))``, for a
mail, a text and a security webhook (whose payload nests), and it reads back as
the same message (R-22: the notice sent is the notice queued)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from custos.notify.base import Message
from custos.notify.sms import SmsMessage
from custos.notify.webhook import SecurityWebhook
from custos.service.notices.outbox import Held, _plain

MESSAGES: list[Held] = [
    Message(to="a@example.org", subject="s", body="b", kind="recovery_notice"),
    Message(
        to="olivia@example.org",
        subject="Your password was changed \u00e9\u2028",
        body='Hello "Olivia",\n\n  Case: case-1\n\\ \x00 \U0001f600',
        kind="recovery_notice",
        case_id="case-1",
        headers={"X-Custos-Kind": "recovery_notice", "X-\u00e9": "v"},
        html="<p>Hello</p>",
    ),
    SmsMessage(to="+15550100", body="Your code is 12345678", kind="sms_code"),
    SmsMessage(to="+15550100", body="b", kind="k", case_id="case-2"),
    SecurityWebhook(kind="operator_anomaly", payload={"a": [1, {"b": None, "c": 1.5}]}),
    SecurityWebhook(kind="fraud_flagged", payload={}, case_id="case-3"),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_the_sealed_json_is_what_dumps_of_asdict_writes(message: Held) -> None:
    assert _plain(message) == json.dumps(asdict(message), separators=(",", ":"))
    assert type(message)(**json.loads(_plain(message))) == message
