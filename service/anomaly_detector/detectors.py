"""Registry of anomaly detectors a bundle can hold.

Every detector is a scikit-learn outlier estimator with ``score_samples``
(higher means more normal) and ``offset_`` (``decision_function = score_samples
- offset_``). The service's ``anomaly_score`` is ``-score_samples``; setting
``offset_ = -threshold`` keeps ``predict`` in step with a chosen threshold.
Today only the Isolation Forest is registered; one-class SVM, LOF and others
slot in here with their own defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from anomaly_detector.fast_forest import compile_forest


def fit_and_score(detector: BaseEstimator, inputs: np.ndarray) -> np.ndarray:
    """Fit any outlier estimator; return the anomaly scores of its training rows."""
    detector.fit(inputs)
    return -detector.score_samples(inputs)


def fit_isolation_forest(detector: IsolationForest, inputs: np.ndarray) -> np.ndarray:
    """``fit_and_score`` for the Isolation Forest, scoring through the compiled forest.

    With a numeric ``contamination``, scikit-learn's ``fit`` scores every training
    row once to place ``offset_`` and the caller then needs the same scores again.
    Here the trees are grown as with ``contamination="auto"`` (the trees do not
    depend on it), the training rows are scored once by the compiled forest, and
    ``offset_`` is set by scikit-learn's own rule: the ``100 * contamination``
    percentile of ``score_samples``.
    """
    contamination = detector.contamination
    detector.set_params(contamination="auto").fit(inputs)
    detector.set_params(contamination=contamination)
    scores = compile_forest(detector).anomaly_scores(inputs)
    if contamination != "auto":
        detector.offset_ = float(np.percentile(-scores, 100.0 * contamination))
    return scores


@dataclass(frozen=True)
class DetectorSpec:
    """How to build one kind of detector and which parameters it takes."""

    name: str
    build: Callable[..., BaseEstimator]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # Fits the detector and returns its training rows' anomaly scores.
    fit: Callable[[Any, np.ndarray], np.ndarray] = fit_and_score


DETECTORS: dict[str, DetectorSpec] = {
    "isolation_forest": DetectorSpec(
        name="isolation_forest",
        build=IsolationForest,
        defaults={
            "n_estimators": 100,
            "max_samples": "auto",
            "contamination": "auto",
            "max_features": 1.0,
            "random_state": 42,
        },
        description="Isolation Forest (Liu et al. 2008): anomalies isolate in few random splits.",
        fit=fit_isolation_forest,
    ),
}


def build_detector(name: str, **params: Any) -> BaseEstimator:
    """A fresh, unfitted detector with the registry's defaults overridden by ``params``.

    Raises:
        ValueError: unknown detector name.
    """
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; available: {', '.join(sorted(DETECTORS))}")
    spec = DETECTORS[name]
    merged = {**spec.defaults, **{k: v for k, v in params.items() if v is not None}}
    return spec.build(**merged)
