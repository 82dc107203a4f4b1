"""How SETs travel (RFC 8935 over TLS): an https receiver whose certificate
chains to ``[ssf] ca_file`` gets them; one whose certificate is not trusted
gets nothing and the SETs wait for a retry; an http endpoint is refused
unless the receiver is on loopback and the deployment allows it. The store
behaviour around delivery is proven on both databases elsewhere
(test_recovery_signals.py); transport does not depend on it, so SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from recoveries import self_service_recovery
from servers.tls import make_tls_files
from sqlalchemy import select
from ssf_world import ssf_world

from custos.domain.errors import InvalidInput
from custos.domain.shared_signals import CREDENTIAL_CHANGE
from custos.service.shared_signals import streams
from custos.store.tables import ssf_outbox


def test_an_https_receiver_trusted_through_the_ca_file_gets_its_sets(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    with ssf_world("sqlite", tmp_path, ca_file=str(tls.ca_file)) as ssf:
        receiver = ssf.receiver(tls=tls)
        assert receiver.url.startswith("https://")
        ssf.add_stream(receiver, events=[CREDENTIAL_CHANGE])
        ssf.world.subject("bob")
        self_service_recovery(ssf.world, "bob")
        ssf.world.drain()
        assert [r.verified for r in receiver.received] == [True]


def test_an_untrusted_certificate_gets_nothing_and_the_set_waits(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path)
    with ssf_world("sqlite", tmp_path) as ssf:  # system CAs: the test CA is unknown
        receiver = ssf.receiver(tls=tls)
        ssf.add_stream(receiver, events=[CREDENTIAL_CHANGE])
        ssf.world.subject("bob")
        self_service_recovery(ssf.world, "bob")
        ssf.world.drain()
        assert receiver.received == []
        with ssf.world.svc.engine.connect() as conn:
            row = conn.execute(select(ssf_outbox.c.attempts, ssf_outbox.c.last_error)).one()
        assert row.attempts == 1
        assert "no answer" in row.last_error


def test_clear_text_endpoints_need_loopback_and_the_setting(tmp_path: Path) -> None:
    with ssf_world("sqlite", tmp_path, allow_insecure_transport=False) as ssf:
        with pytest.raises(InvalidInput, match="clear text"):
            streams.create(
                ssf.world.svc,
                actor="test",
                delivery=streams.Delivery(endpoint_url="http://127.0.0.1:9/events"),
            )
        created = streams.create(
            ssf.world.svc,
            actor="test",
            delivery=streams.Delivery(endpoint_url="https://rp.example.net/events"),
        )
        assert created.audience == ("https://rp.example.net",)
