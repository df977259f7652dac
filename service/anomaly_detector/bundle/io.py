"""Reading and writing bundles: a model file plus ``model.json`` beside it.

* the model file: ``model.joblib`` (a pickle: loading it runs whatever code it
  names) or ``model.skops`` (loads only allow-listed types), holding the dict of
  ``format.to_payload``, or a plain fitted scikit-learn model (see ``adoption``);
* ``model.json``: the metadata for people and tools, plus the sha256 of the model
  file and its name.

Both are written atomically (temporary file in the same folder, fsync, rename),
model file first, so a reader never sees half a file. ``load_bundle`` trusts the
file it is given; the service loads through ``trust.load_trusted_bundle``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from anomaly_detector.bundle import serialization
from anomaly_detector.bundle.adoption import adopt
from anomaly_detector.bundle.format import is_bundle_payload, read_payload, to_payload
from anomaly_detector.bundle.model import ModelBundle
from anomaly_detector.errors import BundleError
from anomaly_detector.files import atomic_write

METADATA_FILENAME = "model.json"
MODEL_FILENAME = serialization.MODEL_FILENAME
SKOPS_FILENAME = serialization.SKOPS_FILENAME


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
    data = serialization.dumps(to_payload(bundle), format)
    model_path = Path(out_dir) / serialization.FORMATS[format]
    atomic_write(model_path, lambda handle: handle.write(data))
    # The hash of the bytes written, not of the file read back: another publisher
    # may have replaced the file in between.
    metadata_path = write_metadata(model_path, bundle.metadata, hashlib.sha256(data).hexdigest())
    return model_path, metadata_path


def write_metadata(
    model_path: Path, metadata: dict[str, Any], sha256: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model.json`` beside ``model_path``: ``metadata`` plus the file's hash and name."""
    metadata_path = Path(model_path).with_name(METADATA_FILENAME)
    document = {**metadata, "sha256": sha256, "file": Path(model_path).name, **(extra or {})}
    text = json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"
    atomic_write(metadata_path, lambda handle: handle.write(text), mode="w")
    return metadata_path


def bundle_from_bytes(data: bytes, name: str) -> ModelBundle:
    """The bundle in a model file's bytes (``name`` ending in ``.skops`` selects skops).

    A plain fitted scikit-learn outlier estimator or pipeline is adopted.

    Raises:
        BundleError: the bytes hold neither, or (skops) types off the allow-list.
    """
    payload = serialization.loads(data, name)
    if is_bundle_payload(payload):
        return read_payload(payload)
    return adopt(payload, hashlib.sha256(data).hexdigest(), name)


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
