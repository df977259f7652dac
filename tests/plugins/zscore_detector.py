"""A detector that exists only for the tests: proof that one module is all a detector needs.

Nothing in ``anomaly_detector`` names it. The tests load it the way a user loads
their own detector: ``DETECTOR_PLUGINS=zscore_detector`` with this folder on the
Python path; ``register`` is its one registry entry.
"""

from __future__ import annotations

import numpy as np

from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.registry import register


class _CompiledZScore:
    """The hot-path form: the same arithmetic on one row without the batch overhead."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray) -> None:
        self.mean, self.scale = mean, scale

    def score_batch(self, inputs: np.ndarray) -> np.ndarray:
        return np.max(np.abs((inputs - self.mean) / self.scale), axis=1)

    def score_row(self, inputs: np.ndarray) -> float:
        return float(np.max(np.abs((inputs - self.mean) / self.scale)))


@register
class ZScoreDetector(Detector):
    """The largest absolute z-score of a row's preprocessed inputs."""

    name = "zscore"
    summary = "test-only: the largest |z-score| among a row's inputs"
    params = (Param("min_scale", 1e-6, "smallest standard deviation used for a feature"),)
    calibrated = True  # its own scale: z-scores, not training percentiles
    score_range = (0.0, np.inf)
    score_meaning = "largest absolute z-score of the row's preprocessed inputs"
    score_buckets = (1.0, 2.0, 3.0, 4.0, 6.0, 10.0, 100.0)
    default_threshold = 4.0

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, dtype=np.float64)
        self.mean_ = inputs.mean(axis=0)
        self.scale_ = np.maximum(inputs.std(axis=0), self.hyperparameters["min_scale"])
        self.n_features_in_ = inputs.shape[1]
        return self.score(inputs)

    def score(self, inputs) -> np.ndarray:
        return self.compile().score_batch(np.asarray(inputs, dtype=np.float64))

    def compile(self) -> _CompiledZScore:
        return _CompiledZScore(self.mean_, self.scale_)
