"""Equal timing for unauthenticated endpoints (R-19).

The unknown-account paths already do equivalent work (the same throttle
upserts, a dummy HMAC or argon2 verification); what they cannot match is the
ledger and mail work of a real case. This ASGI middleware therefore holds back
the start of every answer under the given path prefixes until at least
``floor_s`` seconds passed since the request arrived, so known and unknown
accounts answer after the same time. A request slower than the floor is logged
(``enumeration_floor_exceeded``): raise ``enumeration_floor_ms`` when it shows up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("custos.api")


class EqualTimeMiddleware:
    def __init__(
        self, app: ASGIApp, *, floor_s: Callable[[], float], prefixes: tuple[str, ...]
    ) -> None:
        self.app = app
        self.floor_s = floor_s
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        floor = self.floor_s()

        async def padded(message: Message) -> None:
            if message["type"] == "http.response.start":
                remaining = floor - (time.monotonic() - started)
                if remaining > 0:
                    await anyio.sleep(remaining)
                elif floor > 0:
                    log.warning("enumeration_floor_exceeded", path=path, floor_s=floor)
            await send(message)

        await self.app(scope, receive, padded)
