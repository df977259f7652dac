"""The bundle as a plain dict on disk: version 2 written, versions 1 and 2 read.

A model file holds a dict, not an instance of this package's classes, so files do
not depend on where classes live. Version 2::

    {"format": "anomaly-detector-bundle", "format_version": 2, "task": "unsupervised",
     "detector": {"name": ..., "params": {...}, "state": {...fitted attributes...}},
     "preprocessor": <fitted scikit-learn transformer>,
     "schema": {"features": [...], "ignored": [...], "accepts_missing": true},
     "decision": {"threshold": ..., "contamination": ...},
     "scale": {"raw": [...], "levels": [...], "tail": ...} or None,
     "metadata": {...}}

Version 1 (before core v2) held a ``Pipeline(preprocess, IsolationForest)``, the
schema as a list and the threshold beside them; ``read_payload`` maps it onto the
same ``ModelBundle``, with the identical scores.
"""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import FeatureSchema
from anomaly_detector.detectors import registry
from anomaly_detector.detectors.scale import PercentileScale
from anomaly_detector.errors import BundleError, InputError

BUNDLE_FORMAT = "anomaly-detector-bundle"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def is_bundle_payload(payload: Any) -> bool:
    """Whether ``payload`` carries the bundle format marker (of any version)."""
    return isinstance(payload, dict) and payload.get("format") == BUNDLE_FORMAT


def to_payload(bundle: ModelBundle) -> dict[str, Any]:
    """The version-2 dict written to a model file."""
    detector = bundle.detector
    return {
        "format": BUNDLE_FORMAT,
        "format_version": FORMAT_VERSION,
        "task": bundle.task,
        "detector": {
            "name": detector.name,
            "params": dict(detector.hyperparameters),
            "state": detector.state(),
        },
        "preprocessor": bundle.preprocessor,
        "schema": {
            "features": bundle.schema.to_dict(),
            "ignored": sorted(bundle.schema.ignored),
            "accepts_missing": bundle.schema.accepts_missing,
        },
        "decision": bundle.decision.to_dict(),
        "scale": None if bundle.scale is None else bundle.scale.state(),
        "metadata": bundle.metadata,
    }


def read_payload(payload: Any) -> ModelBundle:
    """The bundle in a version-1 or version-2 dict.

    Raises:
        BundleError: no format marker, an unknown version, missing parts, or a
            detector this process has not registered (``unknown_detector``).
    """
    if not is_bundle_payload(payload):
        raise BundleError("not an anomaly-detector model bundle (format marker missing)")
    version = payload.get("format_version")
    if version not in READABLE_VERSIONS:
        raise BundleError(
            f"bundle format version {version!r} is not supported (this service reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))}); upgrade anomaly-detector"
        )
    try:
        bundle = _read_v1(payload) if version == 1 else _read_v2(payload)
    except InputError as exc:  # the registry's unknown-detector error
        raise BundleError(exc.message, reason="unknown_detector") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"bundle is incomplete: {type(exc).__name__}: {exc}") from exc
    if len(bundle.schema) == 0:
        raise BundleError("bundle schema has no features")
    return bundle


def _read_v2(payload: dict[str, Any]) -> ModelBundle:
    described = payload["detector"]
    cls = registry.detector_class(str(described["name"]))
    detector = cls.from_state(described.get("params") or {}, described["state"])
    schema = payload["schema"]
    return ModelBundle(
        preprocessor=payload["preprocessor"],
        detector=detector,
        schema=FeatureSchema.from_dict(
            schema["features"], schema.get("ignored", ()), bool(schema.get("accepts_missing", True))
        ),
        decision=Decision.from_dict(payload["decision"]),
        metadata=dict(payload.get("metadata") or {}),
        task=payload.get("task", cls.task),
        scale=PercentileScale.from_state(payload["scale"]) if payload.get("scale") else None,
    )


def _read_v1(payload: dict[str, Any]) -> ModelBundle:
    pipeline = payload["pipeline"]
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise BundleError("version-1 bundle pipeline is not preprocess -> detector")
    estimator = pipeline[-1]
    cls = registry.adopting_class(estimator)
    if cls is None:
        raise BundleError(f"version-1 bundle holds {type(estimator).__name__}, not a detector")
    metadata = dict(payload.get("metadata") or {})
    training = metadata.get("training") or {}
    # v1 accepted only feature names in a named row; what training dropped is
    # ignored from v2 on, for old files too.
    ignored = [*(metadata.get("dropped_columns") or {}), training.get("label_column")]
    contamination = getattr(estimator, "contamination", None)
    return ModelBundle(
        preprocessor=pipeline[0],
        detector=cls.from_estimator(estimator),
        schema=FeatureSchema.from_dict(payload["schema"], [n for n in ignored if n]),
        decision=Decision(
            float(payload["threshold"]),
            float(contamination) if isinstance(contamination, int | float) else None,
        ),
        metadata=metadata,
    )
