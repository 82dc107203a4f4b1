"""A Custos served live on loopback (``tests/live_server.py``) whose public
origin is its own address, so the shared-signals metadata, ``jwks_uri`` and
every SET's ``iss`` point at it, with a SET signing key and a receiver factory
(``tests/ssf_receiver.py``). On SQLite or PostgreSQL, like the ``world``
fixture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from live_server import free_port, serve
from servers.tls import TlsFiles
from ssf_receiver import Receiver

from conftest import World, make_world, pg_database
from custos.domain.model import Role
from custos.service.shared_signals import keys


@dataclass
class SsfWorld:
    world: World
    origin: str
    admin: str = ""
    receivers: list[Receiver] = field(default_factory=list)

    @property
    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.origin, timeout=10)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    def receiver(
        self,
        *,
        audience: str = "https://rp.example.net",
        start: bool = True,
        tls: TlsFiles | None = None,
    ) -> Receiver:
        """A receiver on a free port (started unless ``start`` is False)."""
        receiver = Receiver(
            port=free_port(),
            issuer=self.origin,
            audience=audience,
            metadata_url=f"{self.origin}/.well-known/ssf-configuration",
            tls=tls,
        )
        if start:
            receiver.start()
        self.receivers.append(receiver)
        return receiver

    def add_stream(
        self,
        receiver: Receiver,
        *,
        authorization: str | None = None,
        events: list[str] | None = None,
    ) -> str:
        """A stream to ``receiver`` made through the API; returns its id."""
        delivery: dict[str, Any] = {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver.url}
        if authorization is not None:
            delivery["authorization_header"] = authorization
        body: dict[str, Any] = {"delivery": delivery, "aud": receiver.audience}
        if events is not None:
            body["events_requested"] = events
        with self.http as client:
            answer = client.post("/api/v1/ssf/streams", json=body, headers=self.headers())
        assert answer.status_code == 201, answer.text
        stream_id: str = answer.json()["stream_id"]
        return stream_id


@contextmanager
def ssf_world(backend: str, tmp_path: Path, **ssf: Any) -> Iterator[SsfWorld]:
    """The live Custos (``[ssf] allow_insecure_transport`` on: receivers are on
    loopback over http) with an admin operator and a first signing key."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = {"allow_insecure_transport": True, **ssf}
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'custos.db'}"
        else:
            url = stack.enter_context(pg_database())
        world = make_world(url, tmp_path, public_origin=origin, ssf=settings)
        stack.callback(world.svc.engine.dispose)
        keys.rotate(world.svc, actor="test:setup")
        live = SsfWorld(world, origin, admin=world.operator("margaret", Role.ADMIN))
        stack.enter_context(serve(world, port))
        try:
            yield live
        finally:
            for receiver in live.receivers:
                receiver.stop()
