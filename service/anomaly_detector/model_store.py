"""Holding the served model, and swapping in a new one without dropping requests.

A request takes ``store.current`` once and scores with it to the end, so a swap
(one reference assignment) never changes the model under a request in flight.
A candidate bundle is loaded beside the serving one, through
``trust.load_trusted_bundle`` (inside the models directory, sha256 matching
model.json), and must pass ``validate`` before it replaces it; a file that fails
is refused, logged and counted, and the old model keeps serving.

The watcher polls the (inode, size, mtime) of both the model file and
model.json, and retries a refused pair only once one of them changes. Publishing
renames the model file first and model.json second, so for a moment a poll sees
the new model with the old checksum: a checksum refusal within
``PUBLISH_GRACE_SECONDS`` of a change is taken as a publish in progress and
retried at the next poll, without counting or logging an error.
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

from anomaly_detector.bundle import METADATA_FILENAME, BundleError, ModelBundle
from anomaly_detector.metrics import Metrics
from anomaly_detector.scoring import Scorer
from anomaly_detector.trust import load_trusted_bundle

log = logging.getLogger("anomaly_detector.model")

FileState = tuple[int, int, int]  # (inode, size, mtime_ns)
DiskState = tuple[FileState | None, FileState | None]  # (model file, model.json)

# How long after a change of either file a checksum refusal counts as a publish
# in progress (model file renamed, model.json not yet). save_bundle's two renames
# are milliseconds apart; a copy by hand takes longer.
PUBLISH_GRACE_SECONDS = 5.0
# The refusals a publish in progress causes for a moment.
PUBLISH_RACE_REASONS = frozenset({"checksum_missing", "checksum_mismatch"})

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
    metadata_state: FileState | None = None

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
        path: the model file (``model.joblib`` or ``model.skops``) to serve and watch.
        metrics: where loads, failures and the model identity are published.
        allow_schema_change: accept a bundle whose features differ from the
            serving one on automatic reloads (off by default: clients would
            start failing).
        models_dir: the only folder model files are loaded from (symlinks
            resolved); default: the folder of ``path``.
        require_checksum: load only a file whose sha256 matches model.json.
            Off is unsafe: any file that lands in the folder is unpickled.
        publish_grace_seconds: how long after a change a checksum refusal is
            taken for a publish in progress (see the module docstring).
    """

    def __init__(
        self,
        path: Path,
        metrics: Metrics,
        allow_schema_change: bool = False,
        *,
        models_dir: Path | None = None,
        require_checksum: bool = True,
        publish_grace_seconds: float = PUBLISH_GRACE_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.metrics = metrics
        self.allow_schema_change = allow_schema_change
        self.models_dir = Path(models_dir) if models_dir else self.path.parent
        self.require_checksum = require_checksum
        self.publish_grace_seconds = publish_grace_seconds
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._refused_state: DiskState | None = None
        self._seen_state: DiskState | None = None
        self._seen_changed_at: float | None = None
        self._lock = threading.Lock()
        if not require_checksum:
            log.warning(
                "model checksum check is off",
                extra={
                    "event": "checksum_disabled",
                    "detail": "REQUIRE_CHECKSUM=false: any file in the models directory is "
                    "unpickled, which runs the code it names",
                },
            )

    @property
    def ready(self) -> bool:
        return self.current is not None

    def reload(self, reason: str, allow_schema_change: bool | None = None) -> ReloadResult:
        """Load the file, validate it and swap it in; never raises."""
        allow = self.allow_schema_change if allow_schema_change is None else allow_schema_change
        with self._lock:
            previous = self.current
            state = self._observe()
            started = time.perf_counter()
            try:
                trusted = load_trusted_bundle(self.path, self.models_dir, self.require_checksum)
                bundle = trusted.bundle
                if previous is not None and not allow and bundle.schema != previous.bundle.schema:
                    raise BundleError(
                        "features differ from the serving model "
                        f"({previous.bundle.schema.names} -> {bundle.schema.names}); "
                        "reload with allow_schema_change to accept",
                        reason="schema_change",
                    )
                scorer = validate(bundle)
            except BundleError as exc:
                if exc.reason in PUBLISH_RACE_REASONS and self._publish_in_progress(state):
                    return self._await_publish(str(exc), reason, previous)
                return self._refuse(state, str(exc), exc.reason, reason, previous)
            loaded = LoadedModel(
                bundle=bundle,
                scorer=scorer,
                path=self.path,
                file_state=state[0],
                loaded_at=time.time(),
                sha256=trusted.sha256,
                metadata_state=state[1],
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
                    "trigger": reason,
                    "model_version": bundle.version,
                    "previous_version": previous.version if previous else None,
                    "file": str(trusted.real_path),
                    "sha256": trusted.sha256,
                    "checksum_verified": trusted.checksum_verified,
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

    def _await_publish(
        self, message: str, trigger: str, previous: LoadedModel | None
    ) -> ReloadResult:
        """A checksum refusal right after a change: retry at the next poll, count nothing."""
        message = f"publish in progress, retrying: {message}"
        if previous is None:
            self.last_error = message
        log.debug(
            "model publish in progress",
            extra={"event": "model_publish_pending", "trigger": trigger, "detail": message},
        )
        serving = previous.version if previous else None
        return ReloadResult(False, serving, message, serving)

    def _refuse(
        self,
        state: DiskState,
        message: str,
        refusal: str,
        trigger: str,
        previous: LoadedModel | None,
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
                "reason": refusal,
                "trigger": trigger,
                "error": message,
                "path": str(self.path),
                "serving_version": previous.version if previous else None,
            },
        )
        serving = previous.version if previous else None
        return ReloadResult(False, serving, message, serving)

    def disk_state(self) -> DiskState:
        """(model file, model.json) states; model.json is the one beside the real file."""
        metadata_path = Path(os.path.realpath(self.path)).with_name(METADATA_FILENAME)
        return file_state(self.path), file_state(metadata_path)

    def _observe(self) -> DiskState:
        """The disk state now, noting when it last differed from the previous poll."""
        state = self.disk_state()
        if self._seen_state is not None and state != self._seen_state:
            self._seen_changed_at = time.monotonic()
        self._seen_state = state
        return state

    def _publish_in_progress(self, state: DiskState) -> bool:
        """Whether either file changed less than ``publish_grace_seconds`` ago.

        A change is what the watcher saw change, or a recent mtime: the latter
        covers start-up, when there is no earlier poll to compare with.
        """
        grace = self.publish_grace_seconds
        changed_at = self._seen_changed_at
        if changed_at is not None and time.monotonic() - changed_at < grace:
            return True
        now_ns = time.time_ns()
        return any(one is not None and 0 <= now_ns - one[2] < grace * 1e9 for one in state)

    def changed_on_disk(self) -> bool:
        """True when the files differ from the served pair and from the last refused pair."""
        state = self._observe()
        if state[0] is None:
            return False
        served = (self.current.file_state, self.current.metadata_state) if self.current else None
        return state != served and state != self._refused_state

    async def watch(self, interval_seconds: float) -> None:
        """Poll the model file and model.json forever, reloading on a change (run as a task)."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                if self.changed_on_disk():
                    await asyncio.to_thread(self.reload, "file changed")
            except Exception:  # the watcher must outlive any single bad file
                log.exception("model watcher error")
