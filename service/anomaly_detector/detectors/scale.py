"""One score scale for every detector: the training percentile, with a tail beyond it.

A detector's raw score has its own units: a log-density, a distance, an error.
People and dashboards get ``anomaly_score`` in [0, 1): the share of training rows
whose raw score is at most this one, interpolated between training quantiles at
every 0.1%. Above the 99.9th percentile an exponential tail continues the decay of
the last decade (from 0.99 to 0.999 over the raw scores between those quantiles),
so rows far beyond anything seen in training stay ordered instead of all tying at
1. The map is monotone: ROC and PR figures are those of the raw score, and a
threshold of ``1 - c`` flags about ``c`` of traffic like the training data.

The Isolation Forest keeps its paper score (``Detector.calibrated``); other
detectors get this scale, fitted by training on their training rows' raw scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

# Quantile levels of the grid: 0, 0.001, ..., 0.999.
LEVELS = np.round(np.linspace(0.0, 0.999, 1000), 6)
_TOP_LEVEL = LEVELS[-1]
_DECADE = np.log(10.0)

MEANING = (
    "training percentile of the raw score: the share of training rows that scored at "
    "most as high (0.99: more anomalous than 99% of them); beyond the 99.9th percentile "
    "an exponential tail keeps rows ordered below 1"
)
# Resolves the usual thresholds (0.9 to 0.999) finely.
BUCKETS = (0.5, 0.75, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0)


@dataclass(frozen=True)
class PercentileScale:
    """Raw score -> training percentile.

    Attributes:
        raw: increasing raw scores; ``levels[i]`` of training rows scored at most ``raw[i]``.
        levels: the matching shares.
        tail: raw-score units per e-fold of ``1 - score`` beyond ``raw[-1]``.
    """

    raw: np.ndarray
    levels: np.ndarray
    tail: float

    @classmethod
    def fit(cls, training_scores: np.ndarray) -> PercentileScale:
        """The scale of these training rows' raw scores."""
        scores = np.asarray(training_scores, dtype=np.float64)
        scores = scores[np.isfinite(scores)]
        if scores.size == 0:
            raise ValueError("no finite training scores to fit a score scale on")
        quantiles = np.quantile(scores, LEVELS)
        # A raw score shared by many rows (a discrete score) takes the highest level
        # it reaches: the share of rows scoring at most that much.
        reverse = quantiles[::-1]
        unique, first_from_end = np.unique(reverse, return_index=True)
        levels = LEVELS[::-1][first_from_end]
        q99 = np.quantile(scores, 0.99)
        tail = (quantiles[-1] - q99) / _DECADE
        if not tail > 0:  # the top percent is flat: take a tiny fraction of the spread
            spread = float(scores.max() - scores.min()) or abs(float(quantiles[-1])) or 1.0
            tail = spread * 1e-3
        return cls(unique.astype(np.float64), levels.astype(np.float64), float(tail))

    def apply(self, raw_scores: np.ndarray) -> np.ndarray:
        """Anomaly scores in [0, 1) of an array of raw scores."""
        raw_scores = np.asarray(raw_scores, dtype=np.float64)
        scores = np.interp(raw_scores, self.raw, self.levels)
        beyond = raw_scores > self.raw[-1]
        if beyond.any():
            top = self.levels[-1]
            scores[beyond] = 1.0 - (1.0 - top) * np.exp(
                -(raw_scores[beyond] - self.raw[-1]) / self.tail
            )
        return scores

    def apply_one(self, raw_score: float) -> float:
        """``apply`` of one raw score, for the one-row path (the same floats)."""
        return _apply_one(raw_score, self.raw, self.levels, self.tail)

    def state(self) -> dict[str, Any]:
        """What a bundle stores: plain arrays and a float."""
        return {"raw": self.raw, "levels": self.levels, "tail": self.tail}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PercentileScale:
        return cls(
            np.asarray(state["raw"], dtype=np.float64),
            np.asarray(state["levels"], dtype=np.float64),
            float(state["tail"]),
        )


@numba.njit(cache=True, nogil=True)
def _apply_one(raw_score, raw, levels, tail):  # pragma: no cover - compiled; held to apply()
    last = raw.shape[0] - 1
    if raw_score > raw[last]:
        return 1.0 - (1.0 - levels[last]) * np.exp(-(raw_score - raw[last]) / tail)
    if raw_score <= raw[0]:
        return levels[0]
    # np.interp's arithmetic: the left point plus the slope times the offset; a score
    # equal to a grid point lands on it (side="right"), as np.interp returns its level.
    right = np.searchsorted(raw, raw_score, side="right")
    if right > last:
        return levels[last]
    left = right - 1
    slope = (levels[right] - levels[left]) / (raw[right] - raw[left])
    return slope * (raw_score - raw[left]) + levels[left]
