"""``GET /metrics``: Prometheus text exposition, computed from the store per scrape.

Off unless ``metrics_enabled`` is set (the demo sets it): then the path answers
404 like any unknown one. The figures are aggregates (counts, ratios,
durations); no subject, operator or case identifier appears in a label.
Restrict the path at the proxy if even aggregates must stay internal.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException

from custos.api.auth import ServicesDep
from custos.reports.metrics import render_metrics

router = APIRouter()


@router.get("/metrics", tags=["health"], include_in_schema=False)
def metrics(svc: ServicesDep) -> Response:
    if not svc.settings.metrics_enabled:
        raise HTTPException(404, "Not Found")
    return Response(render_metrics(svc), media_type=CONTENT_TYPE_LATEST)
