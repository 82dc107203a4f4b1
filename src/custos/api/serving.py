"""How the API is served: one uvicorn configuration for ``custos serve``, the
demo and the tests that run the real server."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI


def server_config(app: FastAPI, *, host: str, port: int, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` on ``host:port``.

    uvicorn's own proxy-header handling is switched off: by default it believes
    X-Forwarded-For from 127.0.0.1 (or from ``FORWARDED_ALLOW_IPS``), which
    would let any local process or unconfigured proxy pick the client's source
    address. Custos reads the header itself, only from ``trusted_proxies``
    (custos.api.client_source)."""
    options.setdefault("log_level", "warning")
    return uvicorn.Config(app, host=host, port=port, proxy_headers=False, **options)
