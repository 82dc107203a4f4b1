"""The recovery notices the worker queues for a batch (``notify_recoveries``,
rendered once per batch) reach the notifier, after the sweep unsealed them,
byte for byte as ``messages.recovery_notice`` renders them one at a time for
the same inputs: subject, text and HTML body, for a name with markup and
non-ASCII characters; every confirmed address of a case gets the same notice
with its own recipient (R-22)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from recoveries import self_service_recovery

from conftest import World
from custos.domain.model import Contact, ContactKind
from custos.notify import messages
from custos.notify.base import Message
from custos.service.notices import dispatch as notices
from custos.service.notices.outbox_sweep import deliver_due


@dataclass
class Capture:
    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        self.sent.append(message)


def test_batched_notices_are_sent_as_rendered_one_by_one(world: World) -> None:
    names = ("xena", "yuri")
    for name in names:
        world.subject(name)
    ids = [self_service_recovery(world, name) for name in names]
    world.send_notices()
    capture = Capture()
    world.svc.notifier = capture
    awkward = "Zoë <b>&amp; 'O'Brien\" 李\U0001f600"
    now = world.clock.now()
    with world.svc.uow() as uow:
        loaded = uow.cases.get_many(ids)
        subjects = uow.subjects.get_many(names)
        subjects["xena"] = replace(
            subjects["xena"],
            display_name=awkward,
            contacts=(
                Contact(ContactKind.EMAIL, "xena@example.org", True),
                Contact(ContactKind.EMAIL, "xena.2@example.org", True),
            ),
        )
        done = [(loaded[cid], subjects[name]) for cid, name in zip(ids, names, strict=True)]
        assert notices.notify_recoveries(world.svc, uow, done, event="completed", now=now) == 3
        uow.commit()
    while deliver_due(world.svc):
        pass
    sent = [m for m in capture.sent if m.kind == "recovery_notice"]
    assert [m.to for m in sent] == ["xena@example.org", "xena.2@example.org", "yuri@example.org"]
    for message, name, case_id in zip(sent, ("xena", "xena", "yuri"), ids[:1] + ids, strict=True):
        link = message.body.split("\n  ", 4)[-1].split("\n")[0]
        assert link.startswith(f"{world.svc.settings.public_origin}/repudiate#token=crp_")
        expected = messages.recovery_notice(
            to=message.to,
            case_id=case_id,
            display_name=subjects[name].display_name,
            event="completed",
            at=now,
            channel=str(loaded[case_id].channel),
            repudiation_link=link,
            expires_days=notices.REPUDIATION_TTL.days,
        )
        assert message == expected
    assert sent[0].body == sent[1].body and sent[0].html == sent[1].html
    assert "Zoë &lt;b&gt;&amp;amp; &#39;O&#39;Brien&#34; 李\U0001f600" in (sent[0].html or "")
