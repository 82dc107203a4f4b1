"""The HTTP connectors' one answer to a request that got no response: the
target could not be reached (ConnectionFailed) or the exchange broke off
(Retryable). Both are retryable; neither carries a secret."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from custos.connectors.errors import ConnectionFailed, Retryable


@contextmanager
def transport_errors(
    what: str, base_url: str, method: str, path: str, *, detail: bool = False
) -> Iterator[None]:
    """Turn httpx's transport errors inside the block into connector errors naming
    ``what`` (e.g. ``SCIM target 'cloud'``); ``detail`` adds the exception's text
    to the answer of an unreachable target."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        answer = f"{exc.__class__.__name__}: {exc}" if detail else exc.__class__.__name__
        raise ConnectionFailed(f"{what} unreachable at {base_url}", answer=answer) from exc
    except httpx.TransportError as exc:
        raise Retryable(f"{what}: {method} {path} failed", answer=exc.__class__.__name__) from exc
