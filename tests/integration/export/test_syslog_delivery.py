"""SIEM export to a real rsyslog on loopback (TCP and TLS): valid RFC 5424 lines
carrying OCSF JSON, at-least-once across restarts and outages, no injection."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from recoveries import self_service_recovery
from servers.rsyslog import Rsyslog
from siem_helpers import ledger_ids, parse_line, restarted, syslog_sink, with_sinks
from typer.testing import CliRunner

from conftest import World
from custos.cli.main import app as cli
from custos.domain.model import Role
from custos.export.delivery import Exporter, export_due, export_status
from custos.export.sinks import Outgoing, SinkError, SyslogSink
from custos.propagation.worker import Worker
from custos.service.recovery import cases


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_events_arrive_as_rfc5424_lines_with_ocsf_json(
    world: World, rsyslog: Rsyslog, tls: bool
) -> None:
    """Every ledger entry arrives once, as an RFC 5424 line whose MSG is the OCSF
    event and whose structured data carries the same event id."""
    svc = with_sinks(world, {"siem": syslog_sink(rsyslog, tls=tls)})
    world.subject("bob")
    start = len(rsyslog.lines())
    self_service_recovery(world, "bob")
    world.drain()
    expected = ledger_ids(svc)
    received = [parse_line(line) for line in rsyslog.wait_for_lines(start, len(expected))]
    assert [r.event["metadata"]["uid"] for r in received] == expected
    assert all(r.sd_event_id == r.event["metadata"]["uid"] for r in received)
    assert all(r.pri // 8 == 13 for r in received)  # facility 13: log audit
    redeemed = next(r for r in received if r.msgid == "credential:token:redeemed")
    assert redeemed.event["class_uid"] == 3001
    assert redeemed.event["user"]["uid"] == "bob"
    assert export_status(svc)[0].pending == 0


def test_restarted_exporter_resends_nothing_already_acknowledged(
    world: World, rsyslog: Rsyslog
) -> None:
    """A new process (new Services and Worker) continues after the cursor: only
    events written since arrive."""
    svc = with_sinks(world, {"siem": syslog_sink(rsyslog, tls=False)})
    world.subject("carol")
    world.subject("dave")
    start = len(rsyslog.lines())
    self_service_recovery(world, "carol")
    world.drain()
    first = ledger_ids(svc)
    assert len(rsyslog.wait_for_lines(start, len(first))) == len(first)

    again = restarted(svc)
    assert Worker(again, owner="after-restart").run_once() == 0
    world.svc = again
    self_service_recovery(world, "dave")
    world.drain()
    everything = ledger_ids(again)
    lines = rsyslog.wait_for_lines(start, len(everything))
    ids = [parse_line(line).sd_event_id for line in lines]
    assert ids == everything  # each exactly once, in ledger order


def test_sink_down_loses_nothing_and_catches_up_when_back(world: World, rsyslog: Rsyslog) -> None:
    """While rsyslog is stopped nothing is acknowledged and the cursor stays; the
    exporter backs off; once rsyslog is back every event arrives."""
    svc = with_sinks(world, {"siem": syslog_sink(rsyslog, tls=True)}, batch=7)
    world.subject("erin")
    start = len(rsyslog.lines())
    rsyslog.stop()
    self_service_recovery(world, "erin")
    world.drain()
    written = ledger_ids(svc)
    assert export_status(svc)[0].pending == len(written)
    exporter = Exporter(svc)
    assert exporter.run_once() == 0
    assert exporter.backoff["siem"].next_at is not None  # backing off, not hammering
    assert exporter.run_once() == 0  # still inside the backoff: not even tried

    rsyslog.start()
    world.clock.advance(timedelta(seconds=svc.settings.siem.backoff_max_s))
    while exporter.run_once():
        pass
    ids = [parse_line(line).sd_event_id for line in rsyslog.wait_for_lines(start, len(written))]
    assert ids == written
    assert export_status(svc)[0].pending == 0


class CrashAfterSend:
    """Delivers, then dies before the cursor is written (a crash at the worst moment)."""

    def __init__(self, inner: SyslogSink) -> None:
        self.inner = inner
        self.batches: list[list[str]] = []

    def send(self, batch: Sequence[Outgoing]) -> None:
        self.inner.send(batch)
        self.batches.append([item.event_id for item in batch])
        raise SinkError("process died before recording the acknowledgement")


def test_crash_after_send_duplicates_only_the_unacknowledged_batch(
    world: World, rsyslog: Rsyslog
) -> None:
    """The batch in flight during a crash is sent again; nothing is missing and
    every id is unique within each acknowledged batch."""
    svc = with_sinks(world, {"siem": syslog_sink(rsyslog, tls=False)}, batch=5)
    world.subject("fay")
    start = len(rsyslog.lines())
    self_service_recovery(world, "fay")
    written = ledger_ids(svc)
    crashing = CrashAfterSend(SyslogSink(svc.settings.siem.sinks["siem"]))  # type: ignore[arg-type]
    assert Exporter(svc, sinks={"siem": crashing}).run_once() == 0
    lost_batch = crashing.batches[0]
    assert lost_batch == written[:5]

    while export_due(restarted(svc)):
        pass
    ids = [parse_line(line).sd_event_id for line in rsyslog.wait_for_lines(start, len(written) + 5)]
    assert set(ids) == set(written)  # nothing missing
    assert ids == lost_batch + written  # the one duplicate run is the crashed batch
    acknowledged = ids[len(lost_batch) :]
    for i in range(0, len(acknowledged), 5):
        chunk = acknowledged[i : i + 5]
        assert len(set(chunk)) == len(chunk)


def test_forged_newline_in_a_reason_cannot_split_a_syslog_message(
    world: World, rsyslog: Rsyslog
) -> None:
    """A reason carrying CR/LF and a fake syslog header stays inside one JSON string
    of one message (R-37)."""
    svc = with_sinks(world, {"siem": syslog_sink(rsyslog, tls=False)})
    world.subject("gus", groups=("staff",))
    world.operator("hana", Role.REQUESTER)
    forged = 'lost phone\r\n<13>1 2026-11-25T09:00:00Z evil custos - forged - {"class_uid":0}'
    start = len(rsyslog.lines())
    cases.open_helpdesk_case(world.svc, world.operators["hana"], subject_id="gus", reason=forged)
    export_due(svc)
    written = ledger_ids(svc)
    lines = rsyslog.wait_for_lines(start, len(written))
    assert len(lines) == len(written)
    assert not any(line.startswith("<13>1 2026-11-25T09:00:00Z evil") for line in lines)
    received = [parse_line(line) for line in lines]
    opened = next(r for r in received if r.msgid == "case:case:opened")
    assert forged.strip() in opened.event["message"]
    assert "\\r\\n<13>1" in lines[received.index(opened)]


def test_cli_export_run_delivers_the_backlog_and_status_shows_none_pending(
    world: World, rsyslog: Rsyslog, tmp_path: Path
) -> None:
    settings = world.svc.settings
    config = tmp_path / "custos.toml"
    config.write_text(
        f'database_url = "{settings.effective_database_url}"\n'
        f'sealing_key = "{settings.sealing_key.get_secret_value()}"\n'  # type: ignore[union-attr]
        f'data_dir = "{tmp_path}"\n'
        "[siem.sinks.soc]\n"
        'kind = "syslog"\nhost = "127.0.0.1"\n'
        f"port = {rsyslog.port}\n"
    )
    world.subject("ivy")
    start = len(rsyslog.lines())
    self_service_recovery(world, "ivy")
    written = ledger_ids(world.svc)
    runner = CliRunner()
    run = runner.invoke(cli, ["-c", str(config), "export", "run"])
    assert run.exit_code == 0, run.output
    assert f"{len(written)} event(s) delivered" in run.output
    status = runner.invoke(cli, ["-c", str(config), "export", "status", "--json"])
    (row,) = json.loads(status.output)
    assert (row["sink"], row["kind"], row["pending"]) == ("soc", "syslog", 0)
    ids = [parse_line(line).sd_event_id for line in rsyslog.wait_for_lines(start, len(written))]
    assert ids == written
