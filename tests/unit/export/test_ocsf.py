"""The OCSF mapping of ledger entries and the RFC 5424 rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custos.domain.events import EventType
from custos.export.ocsf import classify, encode, strip_secrets, to_ocsf
from custos.export.syslog import format_message, frame, header_field, sd_value


def entry(type_: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "7d1f9a0e-0000-4000-8000-000000000001",
        "type": type_,
        "time": "2026-11-25T09:00:00.250000Z",
        "source": "custos",
        "actor": "operator:op-1",
        "subject": "kim",
        "case": "case-1",
        "outcome": "success",
        "reason": "",
        "data": {},
    }
    return base | extra


@pytest.mark.parametrize(
    ("type_", "class_uid", "activity_id"),
    [
        ("credential:token:issued", 3001, 4),
        ("credential:token:redeemed", 3001, 3),
        ("propagation:receipt:failed", 3001, 4),
        ("proofing:subject:throttled", 3001, 9),
        ("proofing:case:attempted", 3002, 99),
        ("case:approval:granted", 6003, 3),
        ("case:case:opened", 6003, 1),
        ("notify:subject:sent", 0, 99),
        ("audit:ledger:verified", 0, 99),
    ],
)
def test_event_types_map_to_their_ocsf_class(type_: str, class_uid: int, activity_id: int) -> None:
    event = to_ocsf(entry(type_))
    assert (event["class_uid"], event["activity_id"]) == (class_uid, activity_id)
    assert event["type_uid"] == class_uid * 100 + activity_id


def test_every_custos_event_type_has_a_class() -> None:
    for event_type in EventType:
        _, _, name = classify(str(event_type))
        assert name, event_type


def test_metadata_carries_event_id_product_and_original_time() -> None:
    event = to_ocsf(entry("case:approval:granted"), seq=42)
    assert event["metadata"]["uid"] == "7d1f9a0e-0000-4000-8000-000000000001"
    assert event["metadata"]["product"]["name"] == "Custos"
    assert event["metadata"]["original_time"] == "2026-11-25T09:00:00.250000Z"
    assert event["metadata"]["sequence"] == 42
    assert event["time"] == 1795597200250
    assert event["actor"]["user"] == {
        "uid": "operator:op-1",
        "name": "op-1",
        "type": "Admin",
        "type_id": 2,
    }
    assert event["user"]["uid"] == "kim"
    assert event["resources"] == [{"type": "recovery_case", "uid": "case-1"}]


def test_failure_outcome_sets_status_and_raises_severity() -> None:
    event = to_ocsf(entry("proofing:case:attempted", outcome="failure", reason="wrong code"))
    assert (event["status_id"], event["status"]) == (2, "Failure")
    assert event["severity_id"] == 3
    assert event["status_detail"] == "wrong code"
    assert to_ocsf(entry("proofing:case:attempted"))["severity_id"] == 1


def test_secret_named_fields_are_stripped_at_any_depth() -> None:
    data = {
        "password": "hunter2",
        "nested": {"api_key": "k", "reset_token": "t", "target": "cloud"},
        "voided_other_tokens": 2,
        "items": [{"client_secret": "s", "ok": 1}],
    }
    assert strip_secrets(data) == {
        "nested": {"target": "cloud"},
        "voided_other_tokens": 2,
        "items": [{"ok": 1}],
    }
    unmapped = to_ocsf(entry("credential:token:issued", data=data))["unmapped"]
    assert "hunter2" not in json.dumps(unmapped)


def test_encoding_escapes_control_and_non_ascii_characters() -> None:
    text = encode(to_ocsf(entry("case:case:opened", reason="a\r\nb\x00c\u2028d é")))
    assert text.isascii()
    assert not any(ch in text for ch in "\r\n\x00")
    assert json.loads(text)["status_detail"] == "a\r\nb\x00c\u2028d é"


def test_syslog_header_fields_and_sd_values_are_sanitised() -> None:
    assert header_field("evil host\nname", 255) == "evil_host_name"
    assert header_field("", 32) == "-"
    assert sd_value('a"b]c\\d\n') == 'a\\"b\\]c\\\\d?'


def test_syslog_message_is_rfc5424_and_octet_counted() -> None:
    message = format_message(
        facility=13,
        severity=6,
        timestamp="2026-11-25T09:00:00.000000Z",
        hostname="node-1",
        msgid="credential:token:issued",
        event_id="id-1",
        seq=3,
        msg='{"a":1}',
    )
    assert message == (
        b"<110>1 2026-11-25T09:00:00.000000Z node-1 custos - credential:token:issued "
        b'[custos@32473 eventId="id-1" seq="3"] {"a":1}'
    )
    assert frame(message) == str(len(message)).encode() + b" " + message
