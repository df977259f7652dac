"""Any fitted scikit-learn outlier estimator, adopted from a plain ``joblib.dump``.

For users who train in their own notebook and drop ``dump(clf, "model.joblib")``
into the models folder: a one-class SVM, a LOF with ``novelty=True``, an elliptic
envelope, anything with ``score_samples``. The score is ``-score_samples`` and the
threshold the estimator's own ``-offset_``, so ``is_inlier`` agrees with its
``predict``. Scored through scikit-learn (no compiled form); an Isolation Forest
is adopted as ``isolation_forest`` instead, which is compiled.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from anomaly_detector.detectors.base import Detector

# Raw ``-score_samples`` of these estimators have no common range. No bound is
# negative: with a negative bucket prometheus-client stops exposing the histogram's
# _sum, so negative (inlier) scores are all counted in the first bucket, le="0.0".
SCORE_BUCKETS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0)


class SklearnOutlierDetector(Detector):
    """A fitted estimator's ``-score_samples``; adopted, never trained here."""

    name = "sklearn_outlier"
    summary = (
        "a fitted scikit-learn outlier estimator from a plain joblib dump, scored "
        "through scikit-learn (serving only; train it in your own code)"
    )
    # No training scores come with a plain dump, so there is nothing to fit a scale on.
    calibrated = True
    score_range = (-np.inf, np.inf)
    score_meaning = "-score_samples of the adopted scikit-learn estimator; higher is more anomalous"
    raw_score_meaning = score_meaning
    score_buckets = SCORE_BUCKETS
    default_threshold = None
    adopts_any = True

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        raise ValueError(
            "sklearn_outlier only serves estimators fitted elsewhere; train one of the "
            "other detectors, or dump your fitted estimator into the models folder"
        )

    def score(self, inputs) -> np.ndarray:
        names = getattr(self.estimator_, "feature_names_in_", None)
        if names is not None and isinstance(inputs, np.ndarray):
            # Fitted on a frame: scikit-learn checks the column names.
            inputs = pd.DataFrame(inputs, columns=names)
        with warnings.catch_warnings():
            # LocalOutlierFactor passes an array to its own kneighbors even when given
            # the frame it was fitted on, and scikit-learn then warns on every call.
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            scores = self.estimator_.score_samples(inputs)
        return -np.asarray(scores, dtype=np.float64)

    @classmethod
    def adopts(cls, estimator) -> bool:
        return callable(getattr(estimator, "score_samples", None)) and hasattr(
            estimator, "n_features_in_"
        )

    @classmethod
    def from_estimator(cls, estimator) -> SklearnOutlierDetector:
        return cls.from_state(
            {}, {"estimator_": estimator, "n_features_in_": int(estimator.n_features_in_)}
        )
