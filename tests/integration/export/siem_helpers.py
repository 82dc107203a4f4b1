"""Helpers for the SIEM export tests: services wired to sinks, ledger ids, and
RFC 5424 parsing of what rsyslog wrote."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from servers.rsyslog import Rsyslog
from sqlalchemy import select

from conftest import World
from custos.bootstrap import bootstrap
from custos.config import SiemConfig
from custos.service.ports import Services
from custos.store.tables import ledger

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG, SD being one element here.
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    r"(?P<msgid>\S+) (?P<sd>-|\[(?:[^\]\\]|\\.)*\]) (?P<msg>.*)$"
)
EVENT_ID = re.compile(r'eventId="([^"]+)"')


@dataclass(frozen=True)
class Received:
    pri: int
    msgid: str
    sd_event_id: str
    event: dict[str, Any]


def parse_line(line: str) -> Received:
    """One line rsyslog wrote (RFC 5424); fails the test if it is not one."""
    match = RFC5424.match(line)
    assert match, f"not an RFC 5424 line: {line!r}"
    sd_id = EVENT_ID.search(match["sd"])
    assert sd_id, f"no eventId in structured data: {match['sd']!r}"
    return Received(
        pri=int(match["pri"]),
        msgid=match["msgid"],
        sd_event_id=sd_id.group(1),
        event=json.loads(match["msg"]),
    )


def syslog_sink(server: Rsyslog, *, tls: bool) -> dict[str, Any]:
    if tls:
        return {
            "kind": "syslog",
            "host": "127.0.0.1",
            "port": server.tls_port,
            "tls": True,
            "ca_file": str(server.tls.ca_file),
            "timeout_s": 5,
        }
    return {"kind": "syslog", "host": "127.0.0.1", "port": server.port, "timeout_s": 5}


def with_sinks(world: World, sinks: dict[str, dict[str, Any]], **siem: Any) -> Services:
    """``world``'s services with ``siem.sinks`` set (same database and clock)."""
    config = SiemConfig.model_validate({"sinks": sinks, **siem})
    svc = replace(world.svc, settings=world.svc.settings.model_copy(update={"siem": config}))
    world.svc = svc
    return svc


def restarted(svc: Services) -> Services:
    """Fresh services from the same settings and database: a restarted process."""
    return bootstrap(svc.settings, clock=svc.clock, engine=svc.engine)


def ledger_ids(svc: Services) -> list[str]:
    with svc.engine.connect() as conn:
        return list(conn.execute(select(ledger.c.event_id).order_by(ledger.c.seq)).scalars())
