"""Request bodies larger than ``max_request_bytes`` are refused with 413
``request_too_large`` before the application reads them.

Without a bound, FastAPI reads a whole body into memory to parse it (JSON or a
form), so one client could make the server hold gigabytes, on unauthenticated
routes too. The largest body Custos takes is a candidate policy file in the
console's simulation form; the default, 1 MiB, is well above it
(docs/deployment.md). A declared ``Content-Length`` above the bound is refused
at once; a body sent without one (chunked) is read up to the bound and
refused as soon as it passes it, else handed on as received.

This is a plain ASGI middleware, outside the application's exception handlers:
it answers itself, as a page for the console's and the portal's paths and as
the API's JSON error otherwise."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custos.api.errors import body, page_for

ERROR_ID = "request_too_large"
#: A Content-Length with more digits than this is not read as a number: it
#: is too large whatever it says.
MAX_LENGTH_DIGITS = 20


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if declared > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        total = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the application see it
            total += len(message.get("body", b""))
            if total > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(received, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than this server takes ({self.limit} bytes at most)"
        request = Request(scope)
        response: Response | None = page_for(request, 413, ERROR_ID, message)
        if response is None:
            response = JSONResponse(
                body(ERROR_ID, message, {"limit_bytes": self.limit}), status_code=413
            )
        # The rest of the body is not read: the connection closes after this answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; an unreadable one counts as too large."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not text.isdigit() or len(text) > MAX_LENGTH_DIGITS:
                return 2**63
            return int(text)
    return None


def _replay(received: list[Message], receive: Receive) -> Receive:
    """A receive that gives ``received`` first, then whatever comes after."""
    pending = list(received)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
