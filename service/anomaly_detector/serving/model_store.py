"""Holding the served model and swapping in a new one without dropping requests.

A request takes ``store.current`` once and scores with it to the end, so a swap
(one reference assignment) never changes the model under a request in flight.
``reload`` asks the ``ModelLoader`` for a candidate beside the serving model and
swaps it in only once it is proven; a refused file leaves the old model serving.
Side effects (metrics, logs) are hooks attached by the app (``store_hooks``), in
the manner of MLServer's model registry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from anomaly_detector.bundle.trust import CHECKSUM_REASONS
from anomaly_detector.errors import BundleError
from anomaly_detector.serving.loader import LoadedModel, ModelLoader
from anomaly_detector.serving.model_files import DiskState, ModelFiles

log = logging.getLogger("anomaly_detector.model")


@dataclass(frozen=True)
class ReloadResult:
    """Outcome of one load attempt, as returned by ``POST /admin/reload``."""

    loaded: bool
    version: str | None
    message: str
    previous_version: str | None = None


class StoreHooks(Protocol):
    """What the store tells the rest of the service; every method is optional in practice."""

    def on_model_load(self, model: LoadedModel, previous: LoadedModel | None, trigger: str):
        """A model was swapped in."""

    def on_model_refused(self, error: BundleError, previous: LoadedModel | None, trigger: str):
        """A file was refused; ``previous`` (if any) keeps serving."""

    def on_publish_pending(self, error: BundleError, trigger: str):
        """A checksum refusal right after a change: retried at the next poll."""


class ModelStore:
    """The served model and the logic to replace it.

    Args:
        files: the model file and its model.json.
        loader: loads and proves candidates.
        hooks: told of loads and refusals.
        allow_schema_change: accept a bundle whose features differ from the
            serving one on automatic reloads (off by default: clients would
            start failing).
        require_checksum: refuse a file whose sha256 does not match model.json.
    """

    def __init__(
        self,
        files: ModelFiles,
        loader: ModelLoader,
        hooks: Sequence[StoreHooks] = (),
        *,
        allow_schema_change: bool = False,
        require_checksum: bool = False,
    ) -> None:
        self.files = files
        self.loader = loader
        self.hooks = list(hooks)
        self.allow_schema_change = allow_schema_change
        self.require_checksum = require_checksum
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self.refused_state: DiskState | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.current is not None

    def reload(self, trigger: str, allow_schema_change: bool | None = None) -> ReloadResult:
        """Load the file, prove it and swap it in; never raises."""
        allow = self.allow_schema_change if allow_schema_change is None else allow_schema_change
        with self._lock:
            previous = self.current
            serving = previous.version if previous else None
            state = self.files.observe()
            publishing = self.files.publish_in_progress(state)
            try:
                # During a publish the pair may not match yet: wait for it rather than
                # load the new file with the old model.json.
                loaded = self._load(state, previous, allow, publishing)
            except BundleError as error:
                if error.reason in CHECKSUM_REASONS and publishing:
                    message = f"publish in progress, retrying: {error.message}"
                    if previous is None:
                        self.last_error = message
                    self._tell("on_publish_pending", error, trigger)
                    return ReloadResult(False, serving, message, serving)
                self.refused_state = state
                self.last_error = error.message
                self._tell("on_model_refused", error, previous, trigger)
                return ReloadResult(False, serving, error.message, serving)
            self.current = loaded
            self.refused_state = None
            self.last_error = None
            self._tell("on_model_load", loaded, previous, trigger)
            return ReloadResult(True, loaded.version, "model loaded", serving)

    def _load(self, state, previous, allow: bool, publishing: bool) -> LoadedModel:
        """The loader's candidate; anything it raises besides ``BundleError`` becomes one.

        A model file can hold any object, and a bug must not stop the service from
        starting or make the watcher retry the same file forever.
        """
        try:
            return self.loader.load(
                state,
                previous,
                allow_schema_change=allow,
                require_checksum=self.require_checksum or publishing,
            )
        except BundleError:
            raise
        except Exception as exc:
            log.exception("unexpected error while loading %s", self.files.path)
            raise BundleError(f"cannot load the model: {type(exc).__name__}: {exc}") from exc

    def changed_on_disk(self) -> bool:
        """True when the files differ from the served pair and from the last refused pair."""
        state = self.files.observe()
        if state[0] is None:
            return False
        served = self.current.disk_state if self.current else None
        return state != served and state != self.refused_state

    def _tell(self, event: str, *arguments) -> None:
        for hook in self.hooks:
            method = getattr(hook, event, None)
            if method is not None:
                method(*arguments)
