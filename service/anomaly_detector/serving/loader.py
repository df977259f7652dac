"""Loading a candidate model: trusted bytes, a compatible schema, a proven and warm scorer.

``ModelLoader.load`` never replaces anything; it returns a ``LoadedModel`` ready
to swap in, or raises ``BundleError``. When the checksum was not verified (no
``REQUIRE_CHECKSUM``: a model file copied alone, a plain scikit-learn dump) it
writes a fresh ``model.json`` beside the file where the folder is writable, so
people and tools see what is served.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from anomaly_detector.bundle.io import read_metadata, write_metadata
from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.bundle.trust import SERVICE_WRITTEN, TrustedBundle, load_trusted_bundle
from anomaly_detector.errors import BundleError
from anomaly_detector.scoring.canary import validate
from anomaly_detector.scoring.scorer import Scorer
from anomaly_detector.serving.model_files import DiskState, FileState, ModelFiles, file_state

log = logging.getLogger("anomaly_detector.model")


@dataclass(frozen=True)
class LoadedModel:
    """A validated bundle ready to serve, with what is needed to describe it."""

    bundle: ModelBundle
    scorer: Scorer
    path: Path
    real_path: Path
    sha256: str
    checksum_verified: bool
    file_state: FileState | None
    metadata_state: FileState | None
    loaded_at: float
    load_seconds: float

    @property
    def version(self) -> str:
        return self.bundle.version

    @property
    def disk_state(self) -> DiskState:
        return self.file_state, self.metadata_state


class ModelLoader:
    """Loads ``files.path`` from ``models_dir`` into a ``LoadedModel``.

    Args:
        files: the model file and its model.json.
        models_dir: the only folder model files are loaded from.
    """

    def __init__(self, files: ModelFiles, models_dir: Path) -> None:
        self.files = files
        self.models_dir = Path(models_dir)

    def load(
        self,
        state: DiskState,
        previous: LoadedModel | None,
        *,
        allow_schema_change: bool,
        require_checksum: bool,
    ) -> LoadedModel:
        """Load, check and warm the model file.

        Raises:
            BundleError: the file is refused (its ``reason`` says why).
        """
        started = time.perf_counter()
        trusted = load_trusted_bundle(self.files.path, self.models_dir, require_checksum)
        bundle = trusted.bundle
        if (
            previous is not None
            and not allow_schema_change
            and bundle.schema != previous.bundle.schema
        ):
            raise BundleError(
                "features differ from the serving model "
                f"({previous.bundle.schema.names} -> {bundle.schema.names}); "
                "reload with allow_schema_change to accept",
                reason="schema_change",
            )
        scorer = validate(bundle)
        metadata_state = state[1]
        if not trusted.checksum_verified:
            metadata_state = self._describe_unverified(trusted, metadata_state)
        return LoadedModel(
            bundle=bundle,
            scorer=scorer,
            path=self.files.path,
            real_path=trusted.real_path,
            sha256=trusted.sha256,
            checksum_verified=trusted.checksum_verified,
            file_state=state[0],
            metadata_state=metadata_state,
            loaded_at=time.time(),
            load_seconds=time.perf_counter() - started,
        )

    def _describe_unverified(
        self, trusted: TrustedBundle, metadata_state: FileState | None
    ) -> FileState | None:
        """Write model.json for a file loaded without a matching one; its new state.

        What the service writes is marked as its own (``SERVICE_WRITTEN``): it
        describes the file for people and tools, and never counts as a published
        checksum, here, after a restart, in another worker or with REQUIRE_CHECKSUM.
        A model.json that describes another file (the other format published beside
        this one) is left alone, and one the service already wrote for these bytes
        is not written again.
        """
        existing = read_metadata(trusted.real_path) or {}
        described = existing.get("file")
        log.warning(
            "model checksum not verified",
            extra={
                "event": "checksum_not_verified",
                "file": str(trusted.real_path),
                "detail": str(trusted.checksum_problem),
                "hint": "publish with `anomaly-detector train` or save_bundle, or set "
                "REQUIRE_CHECKSUM=true to refuse such files",
            },
        )
        if described not in (None, trusted.real_path.name):
            return metadata_state
        if existing.get("sha256") == trusted.sha256 and existing.get("sha256_source"):
            return metadata_state
        try:
            path = write_metadata(
                trusted.real_path, trusted.bundle.metadata, trusted.sha256, SERVICE_WRITTEN
            )
        except OSError as exc:  # a read-only models folder (the api container mounts it so)
            log.info("model.json not refreshed: %s", exc)
            return metadata_state
        return file_state(path)
