"""Equal timing for unauthenticated endpoints (R-19).

The unknown-account paths already do equivalent work (the same throttle
upserts, a dummy HMAC or argon2 verification); what they cannot match is the
ledger and mail work of a real case, or a directory's bind. This ASGI middleware
therefore holds back the start of every answer under the given path prefixes
(and on the given exact paths) until at least ``floor_s`` seconds passed since
the request arrived, so known and unknown accounts answer after the same time. A
request slower than the floor is logged (``enumeration_floor_exceeded``) with
its route template, never the path itself (it may hold a live flow handle):
raise ``enumeration_floor_ms`` when it shows up.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("custos.api")

#: What the log names when no route matched (the path may still hold a secret).
UNMATCHED = "(no route)"


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/recoveries/{flow}/proofs``),
    never the request's own path; UNMATCHED when no route matched."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED


class EqualTimeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        floor_s: Callable[[], float],
        prefixes: tuple[str, ...],
        paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.floor_s = floor_s
        self.prefixes = prefixes
        self.paths = paths

    def applies(self, path: str) -> bool:
        return path in self.paths or path.startswith(self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(str(scope.get("path", ""))):
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
                    log.warning(
                        "enumeration_floor_exceeded",
                        route=route_template(scope),
                        method=scope.get("method"),
                        floor_s=floor,
                    )
            await send(message)

        await self.app(scope, receive, padded)
