"""What a model load or refusal means for metrics and logs: hooks on the ``ModelStore``."""

from __future__ import annotations

import logging

from anomaly_detector.errors import BundleError
from anomaly_detector.serving.loader import LoadedModel
from anomaly_detector.serving.metrics import Metrics

log = logging.getLogger("anomaly_detector.model")


class MetricsHooks:
    """Publishes the served model's identity and counts loads and refusals."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_model_load(self, model: LoadedModel, previous: LoadedModel | None, trigger: str):
        self.metrics.observe_model(model)

    def on_model_refused(self, error: BundleError, previous: LoadedModel | None, trigger: str):
        self.metrics.observe_refusal(serving=previous is not None)


class LogHooks:
    """One JSON log line per load, refusal and pending publish."""

    def __init__(self, require_checksum: bool) -> None:
        if not require_checksum:
            log.info(
                "model files are loaded without a matching model.json too",
                extra={
                    "event": "checksum_optional",
                    "detail": "REQUIRE_CHECKSUM=false: any file in the models directory is "
                    "loaded (a pickle runs the code it names); the folder is the trust boundary",
                },
            )

    def on_model_load(self, model: LoadedModel, previous: LoadedModel | None, trigger: str):
        log.info(
            "model loaded",
            extra={
                "event": "model_loaded",
                "trigger": trigger,
                "model_version": model.version,
                "previous_version": previous.version if previous else None,
                "detector": model.bundle.detector_name,
                "file": str(model.real_path),
                "sha256": model.sha256,
                "checksum_verified": model.checksum_verified,
                "fast_path": model.scorer.fast_path,
                "load_seconds": round(model.load_seconds, 4),
            },
        )

    def on_model_refused(self, error: BundleError, previous: LoadedModel | None, trigger: str):
        log.error(
            "model refused",
            extra={
                "event": "model_refused",
                "reason": error.reason,
                "trigger": trigger,
                "error": error.message,
                "serving_version": previous.version if previous else None,
            },
        )

    def on_publish_pending(self, error: BundleError, trigger: str):
        log.debug(
            "model publish in progress",
            extra={"event": "model_publish_pending", "trigger": trigger, "detail": error.message},
        )
