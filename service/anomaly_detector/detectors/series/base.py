"""The time-series side of the detector protocol (``task = "timeseries"``).

A series detector is a ``Detector`` whose input rows are ``[timestamp, value]``:
POSIX seconds on a regular grid (one row per window, NaN values where a window is
missing; ``data.series.grid`` builds such grids) and the value. It is *causal*: the
score of a point depends only on the points up to it.

- ``fit(inputs)`` runs the kernel over a history from empty state and keeps the state;
  it returns the anomaly scores of that history (a backtest).
- ``score(inputs)`` scores points after the fitted ones without changing the state;
  ``update(inputs)`` does the same and keeps the new state (a live watcher).
- ``run(inputs)`` is ``fit`` that also returns forecasts, bands and surprises.
- ``ahead(horizon)`` forecasts the next points with their bands.

So a live score equals the backtest score of the same point, to the bit: both go
through ``kernel.run`` with the same state.

With ``transform=log`` the kernel models ``log1p`` of the values, and forecasts and
bands come back in the values' units: latencies, counts and bytes vary by a factor
rather than by an amount, and in log space a traffic drop to a fifth stands out as
much as a burst to five times (on a linear scale a drop is bounded by 0 and barely
registers). ``log1p`` suits values well above 1 (milliseconds, counts, bytes); the
default ``auto`` follows the series' source (``Series.transform``).

The anomaly score is in [0, 1] already (``likelihood``), so ``calibrated`` is set and
training fits no percentile scale.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from anomaly_detector.detectors.base import Detector
from anomaly_detector.detectors.series import kernel, likelihood
from anomaly_detector.detectors.series.params import check_params, period_seconds

LOG_MAX = 709.0  # expm1 of more overflows float64
SCORE_MEANING = (
    "L / (L + 4) with L = -log10 of the tail probability of the point's surprise "
    "(0.5: a one-in-10,000 surprise; 0.75: one in 10^12)"
)
DAY, WEEK = 86_400.0, 604_800.0
# The spread never falls below this share of the series' mean non-zero change between
# windows: a series of counts or ratios that sits at 0 for hours has a residual spread
# near 0, and its first single error would otherwise be a million-sigma event.
RESOLUTION_SHARE = 0.25


@dataclass(frozen=True)
class SeriesOutput:
    """Per point: the forecast made before seeing it, its band, surprise and score."""

    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    surprise: np.ndarray
    anomaly_score: np.ndarray


def alpha_of_halflife(points: float) -> float:
    """Smoothing weight whose memory halves every ``points`` points."""
    return 1.0 - 0.5 ** (1.0 / max(points, 1.0))


class SeriesDetector(Detector):
    """A causal detector and forecaster of one regular series."""

    task = "timeseries"
    calibrated = True
    score_range = (0.0, 1.0)
    score_meaning = SCORE_MEANING
    raw_score_meaning = SCORE_MEANING
    score_buckets = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
    # L = 12 decades: about one false alert per series every three weeks on the
    # generated access logs (bench/results-timeseries.md); 0.5 alerts daily.
    default_threshold = 0.75
    spread_mode: ClassVar[int] = kernel.GLOBAL
    spread_floor: ClassVar[float] = 0.0

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        check_params(self.params, self.hyperparameters)

    def candidates(self, step: float) -> list[list[float]]:
        """Kernel candidate rows ``[period, seasons, neighbors, alpha, centre, damping]``."""
        raise NotImplementedError

    def seasonal_points(self, step: float, default: str = "auto") -> list[int]:
        """The seasonal periods to try, in points of ``step`` seconds (none is 0)."""
        text = self.hyperparameters.get("period", default)
        if text == "auto":
            seconds = [s for s in (DAY, WEEK) if s / step >= 2]
            return [int(round(s / step)) for s in seconds[:1]] if seconds else [0]
        points = int(round(period_seconds(text) / step))
        return [points] if points >= 2 else [0]

    # The fitted state ----------------------------------------------------------
    def _reset(self, step: float) -> None:
        params = self.hyperparameters
        self.step_seconds_ = float(step)
        self.config_ = np.asarray(self.candidates(step), dtype=np.float64)
        reach = int((self.config_[:, 0] * self.config_[:, 1] + self.config_[:, 2]).max()) + 2
        self.settings_ = np.array(
            [
                self.spread_mode,
                alpha_of_halflife(params["spread_halflife"]),
                alpha_of_halflife(params["spread_halflife"]),
                params["clip"],
                params["coverage"],
                min(48, params["spread_halflife"]),
                self.spread_floor,
                RESOLUTION_SHARE,
            ],
            dtype=np.float64,
        )
        self.history_ = np.full(max(reach, 2), np.nan)
        self.candidate_state_ = np.zeros((len(self.config_), kernel.N_CANDIDATE))
        self.scalars_ = np.zeros(kernel.N_SCALARS)
        self.queue_ = np.zeros(int(params["band_window"]))
        self.ranked_ = np.zeros(int(params["band_window"]))
        windows = likelihood.new_state(int(params["short_window"]), int(params["long_window"]))
        self.likelihood_short_ = windows["likelihood_short"]
        self.likelihood_long_ = windows["likelihood_long"]
        self.likelihood_scalars_ = windows["likelihood_scalars"]
        self.n_features_in_ = 2

    def _forward(self, values: np.ndarray) -> np.ndarray:
        values = np.ascontiguousarray(values, dtype=np.float64)
        if self.transform_ != "log":
            return values
        if (values < 0).any():
            raise ValueError("transform=log needs values of at least 0; use transform=none")
        return np.log1p(values)

    def _backward(self, values: np.ndarray) -> np.ndarray:
        if self.transform_ != "log":
            return values
        return np.expm1(np.minimum(values, LOG_MAX))  # a band wider than float64 is its max

    def _advance(self, values: np.ndarray) -> SeriesOutput:
        values = self._forward(values)
        n = values.shape[0]
        forecast, lower, upper, surprise, scores = (np.empty(n) for _ in range(5))
        kernel.run(
            values, self.history_, self.candidate_state_, self.scalars_, self.queue_,
            self.ranked_, self.config_, self.settings_, forecast, lower, upper, surprise,
        )  # fmt: skip
        if self.hyperparameters["scoring"] == "likelihood":
            likelihood.likelihood(
                surprise, self.likelihood_short_, self.likelihood_long_,
                self.likelihood_scalars_, scores,
            )  # fmt: skip
        else:
            likelihood.pointwise(surprise, scores)
        forecast, lower, upper = (self._backward(a) for a in (forecast, lower, upper))
        return SeriesOutput(forecast, lower, upper, surprise, scores)

    # The protocol --------------------------------------------------------------
    def run(self, inputs: np.ndarray, transform: str = "none") -> SeriesOutput:
        """Start from empty state and run over a whole series (a backtest); keep the state.

        Args:
            inputs: ``[timestamp, value]`` rows on a regular grid.
            transform: what the series' source suggests (``Series.transform``); used
                when the ``transform`` parameter is ``auto``.
        """
        times, values = split_inputs(inputs)
        chosen = self.hyperparameters["transform"]
        self.transform_ = transform if chosen == "auto" else chosen
        steps = np.diff(times)
        step = float(np.median(steps)) if len(steps) else 60.0
        if len(steps) and (step <= 0 or not np.allclose(steps, step, rtol=0, atol=1e-6)):
            raise ValueError(
                "series rows must be on a regular grid, one per window, in time order "
                "(data.series.grid fills gaps and merges duplicates)"
            )
        self._reset(step)
        output = self._advance(values)
        self.last_time_ = float(times[-1]) if len(times) else math.nan
        return output

    def fit(self, inputs: np.ndarray) -> np.ndarray:
        return self.run(inputs).anomaly_score

    def update(self, inputs: np.ndarray) -> SeriesOutput:
        """Score points after the fitted ones and keep the new state (the live path).

        Points at or before the last one seen are rejected; a jump of several windows
        is a gap and advances the state over missing values first.
        """
        times, values = split_inputs(inputs)
        if len(times) == 0:
            empty = np.empty(0)
            return SeriesOutput(empty, empty, empty, empty, empty)
        step = self.step_seconds_
        offsets = np.round((times - self.last_time_) / step).astype(np.int64)
        if offsets[0] < 1 or np.any(np.diff(offsets) < 1):
            raise ValueError(
                "new points must come after the last scored one "
                f"({pd.Timestamp(self.last_time_, unit='s')}), in time order, one per window"
            )
        grid = np.full(int(offsets[-1]), np.nan)
        grid[offsets - 1] = values
        output = self._advance(grid)
        self.last_time_ = float(self.last_time_ + offsets[-1] * step)
        pick = offsets - 1
        return SeriesOutput(*(getattr(output, f)[pick] for f in SeriesOutput.__dataclass_fields__))

    def score(self, inputs: np.ndarray) -> np.ndarray:
        return copy.deepcopy(self).update(inputs).anomaly_score

    def ahead(self, horizon: int) -> pd.DataFrame:
        """Forecasts of the next ``horizon`` windows, with the band at ``coverage``."""
        forecast, spread = np.empty(horizon), np.empty(horizon)
        kernel.ahead(
            self.history_, self.candidate_state_, self.scalars_, self.ranked_, self.config_,
            self.settings_, int(horizon), forecast, spread,
        )  # fmt: skip
        times = self.last_time_ + self.step_seconds_ * np.arange(1, horizon + 1)
        return pd.DataFrame(
            {
                "timestamp": pd.to_datetime(times, unit="s", utc=True),
                "forecast": self._backward(forecast),
                "lower": self._backward(forecast - spread),
                "upper": self._backward(forecast + spread),
            }
        )


def split_inputs(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (seconds) and values of ``[timestamp, value]`` rows."""
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != 2:
        raise ValueError(
            f"series detectors take rows of [timestamp, value]; got shape {inputs.shape}"
        )
    return inputs[:, 0], inputs[:, 1]
