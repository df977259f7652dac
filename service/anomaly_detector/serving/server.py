"""Running the app under uvicorn with a shutdown that drops no request.

On SIGTERM or SIGINT the service first reports not-ready on ``/readyz`` (so a
load balancer or orchestrator stops routing to it), keeps serving for
``shutdown_delay_seconds``, and only then lets uvicorn stop accepting
connections; requests in flight complete before the process exits. As
uvicorn does, the signal is re-raised after the graceful shutdown, so the exit
status still says "terminated by SIGTERM".
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from anomaly_detector.serving.api.app import create_app
from anomaly_detector.settings import Settings

log = logging.getLogger("anomaly_detector.app")


class DrainingServer(uvicorn.Server):
    """uvicorn's Server with a readiness-first, delayed graceful shutdown."""

    def __init__(self, config: uvicorn.Config, app, delay_seconds: float) -> None:
        super().__init__(config)
        self.app_with_state = app
        self.delay_seconds = delay_seconds
        self._draining = False

    def handle_exit(self, sig, frame) -> None:
        if self._draining or self.delay_seconds <= 0:
            self.app_with_state.state.draining = True
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self.app_with_state.state.draining = True
        log.info("draining", extra={"event": "draining", "delay_seconds": self.delay_seconds})
        # Called from a signal handler: call_soon_threadsafe wakes the loop.
        loop = asyncio.get_running_loop()
        stop = super().handle_exit
        loop.call_soon_threadsafe(loop.call_later, self.delay_seconds, stop, sig, frame)


def serve(settings: Settings) -> None:
    """Build the app from ``settings`` and serve it until SIGTERM/SIGINT."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=max(settings.request_timeout_seconds, 5.0),
    )
    DrainingServer(config, app, settings.shutdown_delay_seconds).run()


def serve_workers(settings: Settings, workers: int) -> None:
    """Serve with ``workers`` processes sharing the port, metrics aggregated across them.

    Each worker builds its app from the environment (``create_app_from_env``), so
    the command-line choices are passed down as environment variables.
    Prometheus multiprocess mode keeps every worker's samples in a shared folder
    (``PROMETHEUS_MULTIPROC_DIR``, a fresh temporary one unless set) and /metrics
    on any worker reports the sum over all of them.
    """
    import os
    import tempfile
    from pathlib import Path

    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
        prefix="anomaly-detector-metrics-"
    )
    for stale in Path(metrics_dir).glob("*.db"):  # samples of an earlier run
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ["MODEL_PATH"] = str(settings.model_path)
    log.info("starting workers", extra={"workers": workers, "metrics_dir": metrics_dir})
    uvicorn.run(
        "anomaly_detector.serving.api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=max(settings.request_timeout_seconds, 5.0),
    )
