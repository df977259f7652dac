"""The application factory: assembles settings, metrics, the model store and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, multiprocess

from anomaly_detector import __version__
from anomaly_detector.detectors import registry as detector_registry
from anomaly_detector.serving.api.admission import Admission
from anomaly_detector.serving.api.deadlines import Deadlines
from anomaly_detector.serving.api.errors import install_error_handlers
from anomaly_detector.serving.api.fast_lane import PredictionFastLane
from anomaly_detector.serving.api.middleware import ObservabilityMiddleware
from anomaly_detector.serving.api.recorder import RequestRecorder
from anomaly_detector.serving.api.routes import admin, health, model, prediction, ui
from anomaly_detector.serving.loader import ModelLoader
from anomaly_detector.serving.metrics import Metrics
from anomaly_detector.serving.model_files import ModelFiles
from anomaly_detector.serving.model_store import ModelStore
from anomaly_detector.serving.store_hooks import LogHooks, MetricsHooks
from anomaly_detector.serving.watcher import watch
from anomaly_detector.settings import Settings

log = logging.getLogger("anomaly_detector.app")

DESCRIPTION = """
Scores API-traffic feature vectors with the served anomaly detector.

* `POST /prediction`: one row, `{"feature_vector": [...]}` or `{"features": {...}}`.
* `POST /predictions`: a batch, columnar response.
* `GET /model_information`: the serving model's metadata.
* `GET /metrics`: Prometheus metrics.
* `GET /ui`: a web page to see the model and score rows or a CSV by hand.

Errors are JSON `{"detail": ..., "reason": ...}`, never a traceback.
"""


class AnomalyDetectorAPI(FastAPI):
    """FastAPI with ``POST /prediction`` answered by the fast lane before routing."""

    fast_lane: PredictionFastLane | None = None

    async def __call__(self, scope, receive, send) -> None:
        lane = self.fast_lane
        if lane is not None and lane.matches(scope):
            await lane(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_store(settings: Settings, metrics: Metrics) -> ModelStore:
    """The model store for ``settings``, with metrics and log hooks attached."""
    files = ModelFiles(settings.model_path)
    return ModelStore(
        files,
        ModelLoader(files, settings.trusted_models_dir),
        hooks=[MetricsHooks(metrics), LogHooks(settings.require_checksum)],
        allow_schema_change=settings.allow_schema_change,
        require_checksum=settings.require_checksum,
    )


def create_app(
    settings: Settings | None = None, registry: CollectorRegistry | None = None
) -> FastAPI:
    """Build the service.

    Args:
        settings: configuration; defaults to the environment.
        registry: Prometheus registry to register metrics on; a fresh one by default.
    """
    settings = settings or Settings()
    # Before the metrics: the score histogram's buckets come from every detector.
    detector_registry.load_plugins(settings.detector_plugins)
    metrics = Metrics(registry)
    store = build_store(settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(store.reload, "start-up")
        watcher = asyncio.create_task(watch(store, settings.reload_interval_seconds))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                # This worker's live gauges (in flight, model info) stop counting.
                multiprocess.mark_process_dead(os.getpid())

    app = AnomalyDetectorAPI(
        title="Anomaly Detector", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    recorder = RequestRecorder(metrics, settings.log_requests)
    admission = Admission(
        metrics, settings.max_in_flight, settings.api_key_set, settings.max_body_bytes
    )
    deadlines = Deadlines(settings.request_timeout_seconds)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.store = store
    app.state.admission = admission
    app.state.draining = False
    install_error_handlers(app)
    app.add_middleware(
        ObservabilityMiddleware, recorder=recorder, admission=admission, deadlines=deadlines
    )
    if settings.fast_lane:
        app.fast_lane = PredictionFastLane(store, recorder, admission, deadlines)
    for module in (prediction, model, health, admin, ui):
        app.include_router(module.router)
    return app


def create_app_from_env() -> FastAPI:
    """App factory for uvicorn's worker processes: settings and logging from the environment."""
    from anomaly_detector.serving.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
