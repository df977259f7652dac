"""The model bundle: a fitted pipeline plus everything needed to serve and audit it.

On disk a bundle is two files side by side:

* the model file: a plain dict (format marker, pipeline, schema, threshold,
  metadata), so it does not depend on this module's class layout. Either
  ``model.joblib`` (a pickle: loading it runs whatever code it names) or
  ``model.skops`` (skops: loads only types on an allow-list, see ``trust``);
* ``model.json``: the metadata for people and tools, plus the sha256 of the
  model file and its name.

Both are written atomically (temporary file in the same folder, fsync, rename),
model file first, so a reader never sees half a file. ``load_bundle`` trusts the
file it is given; the service loads through ``trust.load_trusted_bundle``, which
first checks where the file is and that its checksum matches ``model.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from anomaly_detector.files import atomic_write
from anomaly_detector.schema import FeatureSchema

BUNDLE_FORMAT = "anomaly-detector-bundle"
BUNDLE_FORMAT_VERSION = 1
MODEL_FILENAME = "model.joblib"
SKOPS_FILENAME = "model.skops"
METADATA_FILENAME = "model.json"
# File name of the model file for each ``save_bundle`` format.
FORMATS = {"joblib": MODEL_FILENAME, "skops": SKOPS_FILENAME}


class BundleError(ValueError):
    """A file is not a usable model bundle; the message says why.

    ``reason`` is a short label for logs (``invalid_bundle``, ``missing_file``,
    ``checksum_mismatch``, ...).
    """

    def __init__(self, message: str, reason: str = "invalid_bundle") -> None:
        super().__init__(message)
        self.reason = reason


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


def import_skops_io():
    """The ``skops.io`` module, or a ``BundleError`` saying how to install it."""
    try:
        import skops.io
    except ImportError as exc:  # pragma: no cover - skops is a dependency; this is the hint
        raise BundleError("model.skops files need the skops package (pip install skops)") from exc
    return skops.io


def save_bundle(
    bundle: ModelBundle, out_dir: str | Path, format: str = "joblib"
) -> tuple[Path, Path]:
    """Write the model file then ``model.json`` into ``out_dir``, each atomically.

    Args:
        bundle: the bundle to publish.
        out_dir: the models folder (created if missing).
        format: ``"joblib"`` writes ``model.joblib`` (a pickle); ``"skops"`` writes
            ``model.skops``, which loads without running code from the file.

    Returns:
        (path of the model file, path of model.json).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown bundle format {format!r}; use one of: {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    model_path = out_dir / FORMATS[format]
    metadata_path = out_dir / METADATA_FILENAME
    if format == "skops":
        data = import_skops_io().dumps(bundle.to_payload())
    else:
        buffer = io.BytesIO()
        joblib.dump(bundle.to_payload(), buffer)
        data = buffer.getvalue()
    atomic_write(model_path, lambda handle: handle.write(data))
    # The hash of the bytes written, not of the file read back: another publisher
    # may have replaced the file in between.
    sha256 = hashlib.sha256(data).hexdigest()
    metadata = {**bundle.metadata, "sha256": sha256, "file": model_path.name}
    text = json.dumps(metadata, indent=2, sort_keys=False, default=str) + "\n"
    atomic_write(metadata_path, lambda handle: handle.write(text), mode="w")
    return model_path, metadata_path


def bundle_from_bytes(data: bytes, name: str) -> ModelBundle:
    """Parse the bytes of a model file; ``name`` ending in ``.skops`` selects skops, else joblib.

    Raises:
        BundleError: the bytes are not a bundle, or (skops) hold types not on
            ``trust.SKOPS_TRUSTED_TYPES``.
    """
    if name.endswith(".skops"):
        # Imported here: trust imports this module, and the allow-list belongs
        # with the other checks made before a file is deserialized.
        from anomaly_detector.trust import load_skops_payload

        payload = load_skops_payload(data, name)
    else:
        try:
            payload = joblib.load(io.BytesIO(data))
        except Exception as exc:  # unpickling raises anything from EOFError to ImportError
            raise BundleError(f"cannot read {name}: {type(exc).__name__}: {exc}") from exc
    return ModelBundle.from_payload(payload)


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a bundle from ``model.joblib`` or ``model.skops`` (chosen by the suffix).

    This trusts ``path``: a joblib file is a pickle and can run code. The
    service loads through ``trust.load_trusted_bundle`` instead.

    Raises:
        BundleError: the file is missing, unreadable, or not a bundle.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model file {path} does not exist", reason="missing_file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {path.name}: {exc}") from exc
    return bundle_from_bytes(data, path.name)


def read_metadata(model_path: str | Path) -> dict[str, Any] | None:
    """The ``model.json`` beside ``model_path``, or None when absent or unreadable."""
    metadata_path = Path(model_path).with_name(METADATA_FILENAME)
    try:
        return json.loads(metadata_path.read_text())
    except (OSError, ValueError):
        return None
