"""A plain ``joblib.dump`` of a fitted scikit-learn model, served as if it were a bundle.

What a data scientist's own notebook writes: ``dump(clf, "model.joblib")`` of an
outlier estimator (``IsolationForest``, ``OneClassSVM``, ``LocalOutlierFactor(novelty=True)``,
...) or of a ``Pipeline`` ending in one. It has no schema, threshold or metadata,
so they are derived: features from ``feature_names_in_`` (or ``x0``, ``x1``, ...
from ``n_features_in_``), all numeric and in the estimator's order; the threshold
from the estimator's ``offset_``, so ``is_inlier`` agrees with its ``predict``.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import Feature, FeatureSchema
from anomaly_detector.detectors import registry
from anomaly_detector.errors import BundleError


def adopt(model: Any, sha256: str, file_name: str) -> ModelBundle:
    """Wrap a fitted scikit-learn outlier estimator or pipeline (see ``_adopt``).

    Raises:
        BundleError: not a fitted outlier estimator, or one that cannot be wrapped
            (whatever scikit-learn raised is in the message).
    """
    try:
        return _adopt(model, sha256, file_name)
    except BundleError:
        raise
    except Exception as exc:  # a file can hold any object; its methods raise anything
        raise BundleError(
            f"{file_name} holds {type(model).__name__}, which cannot be served: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _adopt(model: Any, sha256: str, file_name: str) -> ModelBundle:
    """Wrap a fitted scikit-learn outlier estimator or pipeline.

    Args:
        model: what the file held.
        sha256: hash of the file's bytes; the version is derived from it, so the same
            file always gets the same version.
        file_name: for the messages and the metadata.

    Raises:
        BundleError: not a fitted outlier estimator (or pipeline ending in one).
    """
    steps = model.steps if isinstance(model, Pipeline) else [("model", model)]
    # "passthrough" and None are valid Pipeline steps that do nothing.
    steps = [(name, step) for name, step in steps if step not in (None, "passthrough")]
    if not steps:
        raise BundleError(f"{file_name} holds an empty Pipeline")
    estimator = steps[-1][1]
    detector_class = registry.adopting_class(estimator)
    offset = np.asarray(getattr(estimator, "offset_", np.nan), dtype=np.float64).reshape(-1)
    if detector_class is None or offset.size != 1 or not np.isfinite(offset[0]):
        raise BundleError(
            f"{file_name} holds {type(model).__name__}, which is neither a model bundle nor "
            "a fitted scikit-learn outlier estimator (or Pipeline ending in one) with "
            "score_samples and offset_"
        )
    fitted_names = getattr(model, "feature_names_in_", None)
    n_features = int(getattr(model, "n_features_in_", estimator.n_features_in_))
    if fitted_names is not None:
        names = [str(n) for n in fitted_names]
    else:
        names = [f"x{i}" for i in range(n_features)]
    # A frame with the names for a model fitted on a frame, else an array (which
    # spares scikit-learn's "fitted without feature names" warning).
    as_input = FunctionTransformer(None if fitted_names is not None else np.asarray)
    preprocessor = Pipeline([("as_input", as_input), *steps[:-1]]) if len(steps) > 1 else as_input
    accepts_missing = _accepts_missing(model, n_features, fitted_names)
    threshold = -float(offset[0])
    metadata = {
        "version": f"adopted-{sha256[:12]}",
        "adopted": True,
        "adopted_from": f"{type(model).__name__} in {file_name} (plain scikit-learn dump)",
        "detector": detector_class.name,
        "features": [{"name": n, "kind": "numeric", "categories": []} for n in names],
        "threshold": threshold,
        "reference_scores": {},
        "library_versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
        },
    }
    contamination = getattr(estimator, "contamination", None)
    return ModelBundle(
        preprocessor=preprocessor,
        detector=detector_class.from_estimator(estimator),
        schema=FeatureSchema(
            tuple(Feature(n, "numeric") for n in names), accepts_missing=accepts_missing
        ),
        decision=Decision(
            threshold, float(contamination) if isinstance(contamination, float) else None
        ),
        metadata=metadata,
    )


def _accepts_missing(model: Any, n_features: int, names) -> bool:
    """Whether the model scores a row of NaN (it imputes, or its estimator routes NaN).

    Asked of the model itself: tags say what one step takes, not whether a
    pipeline's imputer removes NaN before the step that would refuse it.
    """
    row = np.full((1, n_features), np.nan)
    probe = pd.DataFrame(row, columns=list(names)) if names is not None else row
    try:
        scores = np.asarray(model.score_samples(probe), dtype=np.float64)
    except ValueError:  # scikit-learn's "Input X contains NaN"
        return False
    return bool(np.all(np.isfinite(scores)))
