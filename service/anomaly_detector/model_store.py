"""Holding the served model, and swapping in a new one without dropping requests.

A request takes ``store.current`` once and scores with it to the end, so a swap
(one reference assignment) never changes the model under a request in flight.
A candidate bundle is loaded beside the serving one and must pass ``validate``
before it replaces it; a file that fails is refused, logged and counted, and
the old model keeps serving. The watcher polls the file's (inode, size, mtime)
and retries a refused file only once it changes again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from anomaly_detector.bundle import BundleError, ModelBundle, load_bundle, read_metadata
from anomaly_detector.metrics import Metrics
from anomaly_detector.scoring import Scorer

log = logging.getLogger("anomaly_detector.model")

FileState = tuple[int, int, int]  # (inode, size, mtime_ns)

# Largest acceptable |fast - scikit-learn| on the canary rows: far above float
# noise (1e-16), far below any real disagreement between the two paths.
CANARY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LoadedModel:
    """A validated bundle ready to serve, with what is needed to describe it."""

    bundle: ModelBundle
    scorer: Scorer
    path: Path
    file_state: FileState | None
    loaded_at: float
    sha256: str | None = None

    @property
    def version(self) -> str:
        return self.bundle.version


@dataclass
class ReloadResult:
    """Outcome of one load attempt, as returned by ``POST /admin/reload``."""

    loaded: bool
    version: str | None
    message: str
    previous_version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def file_state(path: Path) -> FileState | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def canary_rows(bundle: ModelBundle) -> list[list[Any]]:
    """Rows exercising every feature: typical, zero, large, missing and unseen values."""
    rows: list[list[Any]] = []
    for fill in ("first", 0.0, 1e6, None, "unseen"):
        row: list[Any] = []
        for feature in bundle.schema.features:
            if feature.is_categorical:
                if fill == "first" and feature.categories:
                    row.append(feature.categories[0])
                elif fill is None:
                    row.append(None)
                else:
                    row.append("\x00canary-unseen")
            else:
                row.append(None if fill is None else (1.0 if fill in ("first", "unseen") else fill))
        rows.append(row)
    return rows


def validate(bundle: ModelBundle) -> Scorer:
    """Build the scorer and prove it on canary rows; raise ``BundleError`` if unfit to serve."""
    try:
        scorer = Scorer(bundle)
        rows = canary_rows(bundle)
        scores = scorer.score_rows(rows).anomaly_score
        reference = -bundle.pipeline.score_samples(bundle.schema.frame_from_rows(rows))
    except Exception as exc:  # a bundle can fail in any library it touches
        raise BundleError(f"bundle cannot score: {type(exc).__name__}: {exc}") from exc
    if scores.shape != (len(rows),) or not np.all(np.isfinite(scores)):
        raise BundleError("bundle scores canary rows to non-finite values")
    if not np.all((scores > 0) & (scores <= 1)) and bundle.detector == "isolation_forest":
        raise BundleError("Isolation Forest scores outside (0, 1] on canary rows")
    if np.max(np.abs(scores - reference)) > CANARY_TOLERANCE:
        raise BundleError("compiled scorer disagrees with scikit-learn on canary rows")
    if not np.isfinite(bundle.threshold):
        raise BundleError("bundle threshold is not finite")
    return scorer


class ModelStore:
    """The served model and the logic to replace it.

    Args:
        path: the ``model.joblib`` to serve and watch.
        metrics: where loads, failures and the model identity are published.
        allow_schema_change: accept a bundle whose features differ from the
            serving one on automatic reloads (off by default: clients would
            start failing).
    """

    def __init__(self, path: Path, metrics: Metrics, allow_schema_change: bool = False) -> None:
        self.path = Path(path)
        self.metrics = metrics
        self.allow_schema_change = allow_schema_change
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._refused_state: FileState | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.current is not None

    def reload(self, reason: str, allow_schema_change: bool | None = None) -> ReloadResult:
        """Load the file, validate it and swap it in; never raises."""
        allow = self.allow_schema_change if allow_schema_change is None else allow_schema_change
        with self._lock:
            previous = self.current
            state = file_state(self.path)
            started = time.perf_counter()
            try:
                bundle = load_bundle(self.path)
                if previous is not None and not allow and bundle.schema != previous.bundle.schema:
                    raise BundleError(
                        "features differ from the serving model "
                        f"({previous.bundle.schema.names} -> {bundle.schema.names}); "
                        "reload with allow_schema_change to accept"
                    )
                scorer = validate(bundle)
            except BundleError as exc:
                return self._refuse(state, str(exc), reason, previous)
            metadata = read_metadata(self.path) or {}
            loaded = LoadedModel(
                bundle=bundle,
                scorer=scorer,
                path=self.path,
                file_state=state,
                loaded_at=time.time(),
                sha256=metadata.get("sha256")
                if metadata.get("version") == bundle.version
                else None,
            )
            self.current = loaded
            self._refused_state = None
            self.last_error = None
            self.metrics.model_reloads.labels(result="success").inc()
            self.metrics.observe_model(
                version=bundle.version,
                detector=bundle.detector,
                threshold=bundle.threshold,
                reference_quantiles=bundle.metadata.get("reference_scores", {}).get(
                    "quantiles", {}
                ),
                fast_path=scorer.fast_path,
            )
            log.info(
                "model loaded",
                extra={
                    "event": "model_loaded",
                    "reason": reason,
                    "model_version": bundle.version,
                    "previous_version": previous.version if previous else None,
                    "fast_path": scorer.fast_path,
                    "load_seconds": round(time.perf_counter() - started, 4),
                },
            )
            return ReloadResult(
                True,
                bundle.version,
                "model loaded",
                previous.version if previous else None,
                {"fast_path": scorer.fast_path},
            )

    def _refuse(
        self, state: FileState | None, message: str, reason: str, previous: LoadedModel | None
    ) -> ReloadResult:
        self._refused_state = state
        self.last_error = message
        self.metrics.model_reloads.labels(result="failure").inc()
        if previous is None:
            self.metrics.model_loaded.set(0)
        log.error(
            "model refused",
            extra={
                "event": "model_refused",
                "reason": reason,
                "error": message,
                "path": str(self.path),
                "serving_version": previous.version if previous else None,
            },
        )
        serving = previous.version if previous else None
        return ReloadResult(False, serving, message, serving)

    def changed_on_disk(self) -> bool:
        """True when the file differs from the served one and from the last refused one."""
        state = file_state(self.path)
        if state is None:
            return False
        served = self.current.file_state if self.current else None
        return state != served and state != self._refused_state

    async def watch(self, interval_seconds: float) -> None:
        """Poll the model file forever, reloading when it changes (run as a task)."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                if self.changed_on_disk():
                    await asyncio.to_thread(self.reload, "file changed")
            except Exception:  # the watcher must outlive any single bad file
                log.exception("model watcher error")
