"""The claims of Custos's SETs follow SSF 1.0 and CAEP 1.0: one event per SET,
``sub_id`` and never ``sub`` nor ``exp``, ``aud`` a string or an array, CAEP's
names and values for credential-change and session-revoked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from custos.domain import shared_signals as ssf
from custos.domain.model import Channel

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_a_set_holds_one_event_with_the_shared_claims() -> None:
    envelope = ssf.Envelope("https://c.example", ("https://rp.example",), "jti-1", NOW)
    claims = envelope.claims(
        ssf.email_subject("bob@example.org"),
        ssf.CREDENTIAL_CHANGE,
        ssf.credential_change(
            channel=Channel.HELPDESK, occurred_at=NOW, reason_admin="case c-1: reset"
        ),
        "c-1",
    )
    assert claims == {
        "iss": "https://c.example",
        "aud": "https://rp.example",
        "iat": int(NOW.timestamp()),
        "jti": "jti-1",
        "txn": "c-1",
        "sub_id": {"format": "email", "email": "bob@example.org"},
        "events": {
            "https://schemas.openid.net/secevent/caep/event-type/credential-change": {
                "credential_type": "password",
                "change_type": "update",
                "initiating_entity": "admin",
                "reason_admin": {"en": "case c-1: reset"},
                "event_timestamp": int(NOW.timestamp()),
            }
        },
    }


def test_several_audience_values_are_an_array_and_no_txn_is_left_out() -> None:
    envelope = ssf.Envelope("https://c.example", ("a", "b"), "j", NOW)
    claims = envelope.claims(
        ssf.stream_subject("s-1"), ssf.VERIFICATION, ssf.verification(None), None
    )
    assert claims["aud"] == ["a", "b"]
    assert "txn" not in claims and "sub" not in claims and "exp" not in claims
    assert claims["sub_id"] == {"format": "opaque", "id": "s-1"}
    assert claims["events"] == {ssf.VERIFICATION: {}}
    assert ssf.verification("xyz") == {"state": "xyz"}


@pytest.mark.parametrize(
    ("channel", "entity"),
    [
        (Channel.SELF_SERVICE, "user"),
        (Channel.HELPDESK, "admin"),
        (Channel.OWNER_REQUEST, "admin"),
        (Channel.CAMPAIGN, "policy"),
    ],
)
def test_the_initiating_entity_follows_the_channel(channel: Channel, entity: str) -> None:
    event = ssf.session_revoked(channel=channel, occurred_at=NOW, reason_admin="r")
    assert event["initiating_entity"] == entity
    assert set(event) == {"initiating_entity", "reason_admin", "event_timestamp"}


def test_the_reason_names_the_case_and_keeps_the_given_reason_short_and_on_one_line() -> None:
    text = ssf.recovery_reason(
        case_id="c-1",
        tier="standard",
        channel=Channel.HELPDESK,
        reason="phished\r\nX-Evil: 1 " + "x" * 1000,
        what="the password was reset",
    )
    assert text.startswith("Custos recovery case c-1 (helpdesk, tier standard): the password")
    assert "\n" not in text and "\r" not in text
    assert len(text) < 450


def test_a_stream_delivers_the_supported_events_it_asked_for() -> None:
    stream = ssf.Stream(
        id="s",
        audience=("a",),
        endpoint_url="https://rp",
        events_requested=("urn:unknown", ssf.SESSION_REVOKED),
        description=None,
        status=ssf.StreamStatus.PAUSED,
        status_reason=None,
        created_at=NOW,
        updated_at=NOW,
    )
    assert stream.events_delivered == (ssf.SESSION_REVOKED,)
    assert stream.holds_events
    assert not replace(stream, status=ssf.StreamStatus.DISABLED).holds_events


def test_the_subject_of_a_recovery_event_is_iss_sub() -> None:
    """R-31: receivers find the account by the directory's issuer and subject id."""
    assert ssf.iss_sub_subject("https://idp.example", "bob") == {
        "format": "iss_sub",
        "iss": "https://idp.example",
        "sub": "bob",
    }


def test_the_reason_keeps_the_given_words_with_single_spaces() -> None:
    """R-31: the SETs carry the case's reason, whitespace folded, cut at 300 characters;
    a session-revoked event carries it as its reason_admin."""
    text = ssf.recovery_reason(
        case_id="c-2",
        tier="standard",
        channel=Channel.SELF_SERVICE,
        reason="  lost\tmy   phone \n",
        what="sessions were ended",
    )
    assert text == (
        "Custos recovery case c-2 (self_service, tier standard): sessions were ended. "
        "Reason: lost my phone"
    )
    long = ssf.recovery_reason(
        case_id="c", tier="t", channel=Channel.HELPDESK, reason="y" * 400, what="w"
    )
    assert long.endswith("Reason: " + "y" * ssf.REASON_CHARS)
    event = ssf.session_revoked(channel=Channel.HELPDESK, occurred_at=NOW, reason_admin=text)
    assert event["reason_admin"] == {"en": text}
