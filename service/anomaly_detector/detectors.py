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

from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest


@dataclass(frozen=True)
class DetectorSpec:
    """How to build one kind of detector and which parameters it takes."""

    name: str
    build: Callable[..., BaseEstimator]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


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
