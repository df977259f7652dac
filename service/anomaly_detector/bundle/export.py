"""A bundle as a plain scikit-learn ``Pipeline``, for code that knows nothing of this package.

The inverse of ``adoption``: the fitted preprocessing followed by a copy of the
detector's library estimator whose ``offset_`` carries the bundle's threshold, so
``predict`` gives the bundle's decisions and ``-score_samples`` its scores. Only
for detectors whose fitted state is one scikit-learn outlier estimator.
"""

from __future__ import annotations

import copy

from sklearn.pipeline import Pipeline

from anomaly_detector.bundle.model import ModelBundle


def sklearn_pipeline(bundle: ModelBundle) -> Pipeline:
    """``Pipeline([("preprocess", ...), ("detector", estimator)])`` deciding as the bundle does.

    Raises:
        ValueError: the detector's fitted state is not a scikit-learn outlier estimator.
    """
    estimator = getattr(bundle.detector, "estimator_", None)
    if estimator is None or not hasattr(estimator, "offset_"):
        raise ValueError(f"{bundle.detector_name} is not backed by one scikit-learn estimator")
    estimator = copy.deepcopy(estimator)
    # score_samples - offset_ < 0 is an outlier; our anomaly score is -score_samples.
    estimator.offset_ = -bundle.threshold
    return Pipeline([("preprocess", bundle.preprocessor), ("detector", estimator)])
