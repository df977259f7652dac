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
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import get_tags

from anomaly_detector.bundle.model import Decision, ModelBundle
from anomaly_detector.data.feature_schema import Feature, FeatureSchema
from anomaly_detector.detectors import registry
from anomaly_detector.errors import BundleError


def adopt(model: Any, sha256: str, file_name: str) -> ModelBundle:
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
    estimator = steps[-1][1]
    detector_class = registry.adopting_class(estimator)
    offset = getattr(estimator, "offset_", None)
    if detector_class is None or not isinstance(offset, int | float | np.floating):
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
    if len(steps) > 1:
        preprocessor = Pipeline(steps[:-1])
    else:
        # Identity: a frame with the names for an estimator fitted on a frame, else
        # an array (which spares scikit-learn's "fitted without names" warning).
        preprocessor = FunctionTransformer(None if fitted_names is not None else np.asarray)
    accepts_missing = all(get_tags(step).input_tags.allow_nan for _, step in steps)
    threshold = -float(offset)
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
