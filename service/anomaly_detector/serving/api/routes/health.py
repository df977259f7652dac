"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from anomaly_detector.serving.api.contract import HealthResponse
from anomaly_detector.serving.api.deps import MetricsDep, StoreDep
from anomaly_detector.serving.api.responses import json_response
from anomaly_detector.serving.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness")
async def healthz() -> Response:
    """The process is up and answering."""
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "No valid model loaded."}},
    summary="Readiness",
)
async def readyz(request: Request, store: StoreDep) -> Response:
    """Ready only while a valid model is loaded and the service is not shutting down."""
    if getattr(request.app.state, "draining", False):
        return json_response({"status": "draining", "detail": "shutting down"}, status_code=503)
    model = store.current
    if model is None:
        return json_response(
            {"status": "not ready", "detail": store.last_error or "no model loaded"},
            status_code=503,
        )
    return json_response({"status": "ready", "model_version": model.version})


# HEAD, as some load balancers probe: the GET's status without a body (not in the
# OpenAPI schema, which documents the GET).
@router.head("/healthz", include_in_schema=False)
async def healthz_head() -> Response:
    return Response(status_code=200)


@router.head("/readyz", include_in_schema=False)
async def readyz_head(request: Request, store: StoreDep) -> Response:
    return Response(status_code=(await readyz(request, store)).status_code)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text exposition format."""
    return Response(exposition(metrics.registry), media_type=CONTENT_TYPE_LATEST)
