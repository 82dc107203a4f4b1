"""The recovery notice's bytes are pinned (R-22): for given inputs its subject,
text body and HTML body are exactly what they were when this test was written
(rendered by Jinja from ``recovery_notice.txt``/``.html``, one ``render`` per
message), including for non-ASCII names, HTML-special characters in every
value (escaped in the HTML part only), an unknown channel label and a time not
in UTC. The worker's batch rendering (``RecoveryNotices``: the templates
rendered once per batch, each case's values filled in) gives the same bytes,
and falls back to Jinja for templates it cannot fill in exactly."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from custos.notify import batch_messages, messages
from custos.notify.base import Message

NAMES = [
    "Bob",
    "Zoë Ångström 李小龍\u2028\U0001f600",
    "<script>alert(\"x\")</script> & 'O'Brien'",
    "{{ case_id }} {% if %} &amp;",
    "",
]
CHANNELS = ["self_service", "helpdesk", "unknown<&>\"'"]
CASES = ["case-1", "c<&>\"'é"]
LINKS = [
    "https://recovery.example.org/repudiate#token=crp_REPUDIATE",
    "https://r.example.org/repudiate#token=crp_a&b<c>\"d'e",
]
ATS = [
    datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
    datetime(2026, 2, 28, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
]
#: SHA-256 over every combination below, as rendered on main at 43cb350.
PINNED = "9cbcdca16bdee3605707d86a75e1a03e853309bca03573e377369ebfc1983169"

AWKWARD_TEXT = """\
Hello Zoë <b>&amp; 'O'Brien",

Account recovery c<&>"'é was approved for your account, and a one-time
link to choose a new password was sent to your confirmed email address(es).

  Case:    c<&>"'é
  When:    2026-03-01 04:59 UTC
  Channel: help desk

If this was you, there is nothing to do.

If this was NOT you, someone may be taking over your account. Open this link to
stop the recovery and alert your security team (it works once, for 7 days):

  https://r.example.org/repudiate#token=crp_a&b<c>"d'e

Then contact your security team. You will not be asked for a password or a code.
"""

AWKWARD_HTML = """\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>A recovery of your account was approved</title></head>
<body style="font-family: sans-serif; line-height: 1.4; max-width: 40em">

<p>Hello Zoë &lt;b&gt;&amp;amp; &#39;O&#39;Brien&#34;,</p>

<p>Account recovery <b>c&lt;&amp;&gt;&#34;&#39;é</b> was approved for your account, \
and a one-time
link to choose a new password was sent to your confirmed email address(es).</p>

<table>
<tr><th align="left">Case</th><td>c&lt;&amp;&gt;&#34;&#39;é</td></tr>
<tr><th align="left">When</th><td>2026-03-01 04:59 UTC</td></tr>
<tr><th align="left">Channel</th><td>help desk</td></tr>
</table>
<p>If this was you, there is nothing to do.</p>
<p><b>If this was not you</b>, someone may be taking over your account.
<a href="https://r.example.org/repudiate#token=crp_a&amp;b&lt;c&gt;&#34;d&#39;e">\
Stop this recovery and alert security</a>
(the link works once, for 7 days). Then contact your security team.
You will not be asked for a password or a code.</p>

<p style="color: #666; font-size: smaller">This message was sent automatically by \
Custos, the
account-recovery service of your organisation. Do not reply to it.</p>
</body>
</html>
"""


def _one(
    batched: bool,
    *,
    to: str,
    case_id: str,
    display_name: str,
    event: str,
    at: datetime,
    channel: str,
    repudiation_link: str,
    expires_days: int,
) -> Message:
    """A notice built one at a time (``recovery_notice``) or by a batch."""
    if not batched:
        return messages.recovery_notice(
            to=to,
            case_id=case_id,
            display_name=display_name,
            event=event,
            at=at,
            channel=channel,
            repudiation_link=repudiation_link,
            expires_days=expires_days,
        )
    notices = batch_messages.RecoveryNotices(event=event, at=at, expires_days=expires_days)
    sent = notices.messages(
        to=[to, "second@example.org"],
        case_id=case_id,
        display_name=display_name,
        channel=channel,
        repudiation_link=repudiation_link,
    )
    assert sent[1].to == "second@example.org"
    assert (sent[1].subject, sent[1].body, sent[1].html) == (
        sent[0].subject,
        sent[0].body,
        sent[0].html,
    )
    return sent[0]


@pytest.mark.parametrize("batched", [False, True], ids=["one", "batch"])
def test_an_awkward_recovery_notice_renders_byte_for_byte_as_pinned(batched: bool) -> None:
    """HTML-special characters and non-ASCII in the name, the case id and the
    link: kept as they are in the text part, escaped in the HTML part."""
    message = _one(
        batched,
        to="zoë@example.org",
        case_id="c<&>\"'é",
        display_name="Zoë <b>&amp; 'O'Brien\"",
        event="credential_issued",
        at=datetime(2026, 2, 28, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        channel="helpdesk",
        repudiation_link="https://r.example.org/repudiate#token=crp_a&b<c>\"d'e",
        expires_days=7,
    )
    assert message.subject == "A recovery of your account was approved"
    assert message.body == AWKWARD_TEXT
    assert message.html == AWKWARD_HTML
    assert (message.to, message.kind, message.case_id, message.headers) == (
        "zoë@example.org",
        "recovery_notice",
        "c<&>\"'é",
        {},
    )


@pytest.mark.parametrize("batched", [False, True], ids=["one", "batch"])
def test_every_combination_of_awkward_inputs_renders_as_pinned(batched: bool) -> None:
    """480 notices (both events, known and unknown channels, UTC and not,
    names with markup, template syntax, braces, non-ASCII, an empty name):
    their digest is the one pinned."""
    digest = hashlib.sha256()
    for name, event, channel, case, link, at, days in itertools.product(
        NAMES, ("credential_issued", "completed"), CHANNELS, CASES, LINKS, ATS, (7, 0)
    ):
        m = _one(
            batched,
            to="zoë@example.org",
            case_id=case,
            display_name=name,
            event=event,
            at=at,
            channel=channel,
            repudiation_link=link,
            expires_days=days,
        )
        blob = [m.to, m.subject, m.body, m.html, m.kind, m.case_id, m.headers]
        digest.update(json.dumps(blob, ensure_ascii=False).encode())
    assert digest.hexdigest() == PINNED
