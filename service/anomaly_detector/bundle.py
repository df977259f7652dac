"""The model bundle: a fitted pipeline plus everything needed to serve and audit it.

On disk a bundle is two files side by side:

* ``model.joblib``: a plain dict (format marker, pipeline, schema, threshold,
  metadata), so it does not depend on this module's class layout;
* ``model.json``: the metadata for people and tools, plus the sha256 of the
  joblib file.

Both are written atomically (temporary file in the same folder, fsync, rename),
joblib first, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from anomaly_detector.schema import FeatureSchema

BUNDLE_FORMAT = "anomaly-detector-bundle"
BUNDLE_FORMAT_VERSION = 1
MODEL_FILENAME = "model.joblib"
METADATA_FILENAME = "model.json"


class BundleError(ValueError):
    """A file is not a usable model bundle; the message says why."""


@dataclass
class ModelBundle:
    """A fitted pipeline (preprocessing + detector) with its schema, threshold and metadata."""

    pipeline: Pipeline
    schema: FeatureSchema
    detector: str
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def estimator(self):
        """The final step of the pipeline (the detector itself)."""
        return self.pipeline[-1]

    def set_threshold(self, threshold: float) -> None:
        """Use ``threshold`` on the anomaly score; keeps the estimator's ``predict`` consistent."""
        self.threshold = float(threshold)
        self.estimator.offset_ = -self.threshold
        self.metadata["threshold"] = self.threshold

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "detector": self.detector,
            "pipeline": self.pipeline,
            "schema": self.schema.to_dict(),
            "threshold": self.threshold,
            "metadata": self.metadata,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> ModelBundle:
        if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
            raise BundleError("not an anomaly-detector model bundle (format marker missing)")
        version = payload.get("format_version")
        if version != BUNDLE_FORMAT_VERSION:
            raise BundleError(
                f"bundle format version {version!r} is not supported "
                f"(this service reads version {BUNDLE_FORMAT_VERSION})"
            )
        try:
            schema = FeatureSchema.from_dict(payload["schema"])
            pipeline = payload["pipeline"]
            threshold = float(payload["threshold"])
            detector = str(payload["detector"])
            metadata = dict(payload.get("metadata") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"bundle is incomplete: {exc!r}") from exc
        if not hasattr(pipeline, "score_samples"):
            raise BundleError("bundle pipeline has no score_samples method")
        if len(schema) == 0:
            raise BundleError("bundle schema has no features")
        return cls(pipeline, schema, detector, threshold, metadata)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` via ``write(handle)`` to a temporary sibling, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def save_bundle(bundle: ModelBundle, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``model.joblib`` then ``model.json`` into ``out_dir``, each atomically.

    Returns:
        (path of model.joblib, path of model.json).
    """
    out_dir = Path(out_dir)
    model_path = out_dir / MODEL_FILENAME
    metadata_path = out_dir / METADATA_FILENAME
    atomic_write(model_path, lambda handle: joblib.dump(bundle.to_payload(), handle))
    metadata = {**bundle.metadata, "sha256": sha256_file(model_path), "file": MODEL_FILENAME}
    text = json.dumps(metadata, indent=2, sort_keys=False, default=str) + "\n"
    atomic_write(metadata_path, lambda handle: handle.write(text), mode="w")
    return model_path, metadata_path


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a bundle from ``model.joblib``.

    Raises:
        BundleError: the file is missing, unreadable, or not a bundle.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model file {path} does not exist")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # unpickling raises anything from EOFError to ImportError
        raise BundleError(f"cannot read {path.name}: {type(exc).__name__}: {exc}") from exc
    return ModelBundle.from_payload(payload)


def read_metadata(model_path: str | Path) -> dict[str, Any] | None:
    """The ``model.json`` beside ``model_path``, or None when absent or unreadable."""
    metadata_path = Path(model_path).with_name(METADATA_FILENAME)
    try:
        return json.loads(metadata_path.read_text())
    except (OSError, ValueError):
        return None
