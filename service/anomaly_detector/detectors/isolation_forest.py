"""Isolation Forest (Liu, Ting and Zhou, 2008), fitted by scikit-learn, served compiled.

The anomaly score is the paper's ``2 ** -(mean path length / c(n))`` in (0, 1],
equal to ``-IsolationForest.score_samples``. Fitting grows the trees with
``contamination="auto"`` (the trees do not depend on it): the threshold is the
bundle's, not the estimator's ``offset_``, so scikit-learn never scores the
training rows only to place an offset. The compiled forest scores them once instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.forest_kernel import CompiledForest, compile_forest
from anomaly_detector.detectors.trees import TableExplainer, isolation_forest_table

# The usual boundary is 0.45..0.65, so buckets are 0.02 wide there and coarse elsewhere.
SCORE_BUCKETS = (
    0.30, 0.35, 0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52, 0.54, 0.56, 0.58,
    0.60, 0.62, 0.64, 0.66, 0.68, 0.70, 0.75, 0.80, 0.90, 1.0,
)  # fmt: skip


def parse_max_samples(text: str) -> int | float | str:
    """``auto``, a row count (``256``) or a share of the rows (``0.5``)."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"max_samples must be 'auto', an integer or a fraction, got {text!r}"
        ) from None


class IsolationForestDetector(Detector):
    """Random axis-parallel splits isolate anomalies in few steps."""

    name = "isolation_forest"
    summary = (
        "Isolation Forest: anomalies isolate in few random splits; strong on global "
        "anomalies, robust to irrelevant features and heavy tails; the best single detector "
        "on average"
    )
    params = (
        Param("n_estimators", 100, "trees in the forest", int),
        Param(
            "max_samples",
            "auto",
            "rows per tree: 'auto' (256), a count or a fraction",
            parse_max_samples,
        ),  # fmt: skip
        Param("max_features", 1.0, "share of features each tree sees", float),
        Param("random_state", 42, "seed; same data and seed, same scores", int),
    )
    calibrated = True
    score_range = (0.0, 1.0)
    raw_score_meaning = "the paper score itself"
    score_meaning = (
        "Isolation Forest paper score 2^-(mean path length / c(n)) in (0, 1]; "
        "0.5 is the paper's boundary, higher is more anomalous"
    )
    score_buckets = SCORE_BUCKETS
    default_threshold = 0.5
    search_space = ({}, {"max_samples": 1024}, {"max_features": 0.5})
    skops_types = ("sklearn.tree._tree.Tree",)

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        self.estimator_ = IsolationForest(contamination="auto", **self.hyperparameters)
        self.estimator_.fit(inputs)
        self.n_features_in_ = int(self.estimator_.n_features_in_)
        return compile_forest(self.estimator_).score_batch(inputs)

    def score(self, inputs: np.ndarray) -> np.ndarray:
        return -self.estimator_.score_samples(inputs)

    def compile(self) -> CompiledForest:
        return compile_forest(self.estimator_)

    def explainer(self) -> TableExplainer:
        return TableExplainer(
            isolation_forest_table(self.estimator_),
            "minus the mean path length: the anomaly score is 2 ** (value / c(max_samples)) "
            f"with c = {_average_path_length([self.estimator_._max_samples])[0]:.4f}",
        )

    @classmethod
    def adopts(cls, estimator: Any) -> bool:
        return isinstance(estimator, IsolationForest)

    @classmethod
    def from_estimator(cls, estimator: IsolationForest) -> IsolationForestDetector:
        """Wrap an already fitted scikit-learn forest (a version-1 bundle, a plain dump)."""
        known = {param.name for param in cls.params}
        params: dict[str, Any] = {k: v for k, v in estimator.get_params().items() if k in known}
        return cls.from_state(
            params, {"estimator_": estimator, "n_features_in_": int(estimator.n_features_in_)}
        )
