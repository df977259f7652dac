"""The watcher as a process: a poll loop in a thread, ``/metrics`` and ``/healthz`` over HTTP.

``/healthz`` answers 200 while the last poll reached Prometheus and 503 (with the
error) before the first poll did and while it cannot, so compose and ``make run``
show the watcher's health the way they show the service's; ``/metrics`` is scraped
by the same Prometheus. A poll that raises is logged and counted as a failed poll,
and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from anomaly_detector.monitor.queries import watched_queries
from anomaly_detector.monitor.watcher import WatchConfig, Watcher
from anomaly_detector.settings import Settings

log = logging.getLogger("anomaly_detector.monitor")


def build_watcher(settings: Settings) -> Watcher:
    """A watcher configured from the ``watch_*`` settings."""
    from anomaly_detector.timeseries.detection import series_detector

    series_detector(settings.watch_detector)  # fail at start on a bad name, not at a poll
    config = WatchConfig(
        prometheus_url=settings.watch_prometheus_url,
        queries=watched_queries(settings.watch_queries),
        step_seconds=settings.watch_step_seconds,
        history_seconds=settings.watch_history_hours * 3600.0,
        refit_seconds=settings.watch_refit_minutes * 60.0,
        threshold=settings.watch_threshold,
    )
    return Watcher(config, lambda: series_detector(settings.watch_detector))


def create_app(settings: Settings, watcher: Watcher | None = None) -> FastAPI:
    """The watcher's HTTP app; its lifespan runs the poll loop every ``watch_interval_seconds``."""
    watcher = watcher or build_watcher(settings)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                watcher.poll()
            except Exception as exc:  # a bug in one poll must not end the loop silently
                log.exception("watcher poll crashed")
                watcher.record_failure(f"the poll crashed: {exc!r}")
            stop.wait(settings.watch_interval_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=loop, name="series-watcher", daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join(timeout=10)

    app = FastAPI(title="Anomaly Detector series watcher", lifespan=lifespan)
    app.state.watcher = watcher
    app.mount("/metrics", make_asgi_app(watcher.metrics.registry))

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """The watcher's health: Prometheus reachable, and the newest point per series."""
        status = watcher.status()
        return JSONResponse(status, status_code=200 if status["prometheus_up"] else 503)

    return app
