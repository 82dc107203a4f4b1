"""A Custos that mails through the loopback SMTP server (tests/servers/smtp.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from servers.smtp import SmtpServer

from conftest import World, make_world, pg_database
from custos.domain.model import Contact, ContactKind

SECURITY_ADDRESS = "soc@example.org"


def mail_world(
    backend: str,
    tmp_path: Path,
    smtp: dict[str, Any],
    *,
    server: SmtpServer | None = None,
    **more: Any,
) -> Iterator[World]:
    """A World on ``backend`` whose notifier is SMTP; security alerts go to
    SECURITY_ADDRESS. With ``server``, every read of that server's mail first
    sends what waits in the World's outbox (as the worker's pass would).
    ``more``: further settings (e.g. the security webhook)."""
    settings = {"smtp": smtp, "security_address": SECURITY_ADDRESS, **more}
    if backend == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **settings)
        yield from _serving(world, server)
        return
    with pg_database() as url:
        world = make_world(url, tmp_path, **settings)
        yield from _serving(world, server)


def _serving(world: World, server: SmtpServer | None) -> Iterator[World]:
    if server is not None:
        server.before_read = world.send_notices
        world.mail_server = server
    try:
        yield world
    finally:
        if server is not None:
            server.before_read = None
        world.svc.engine.dispose()


def add_contact(world: World, subject_id: str, address: str, *, confirmed: bool = True) -> None:
    """Give a subject one more email contact."""
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        assert subject is not None
        contacts = (*subject.contacts, Contact(ContactKind.EMAIL, address, confirmed))
        uow.subjects.update(dataclasses.replace(subject, contacts=contacts))
        uow.commit()
