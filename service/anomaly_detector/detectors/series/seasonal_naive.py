"""Seasonal naive: the value one period ago is the forecast (the forecasting baseline).

On hourly and finer data it is a hard baseline to beat; its surprise is the change
from one period ago in units of the recent mean absolute change.
"""

from __future__ import annotations

from anomaly_detector.detectors.base import Param
from anomaly_detector.detectors.series import kernel
from anomaly_detector.detectors.series.base import SeriesDetector
from anomaly_detector.detectors.series.params import COMMON_PARAMS


class SeasonalNaiveDetector(SeriesDetector):
    """The value one period back."""

    name = "seasonal_naive"
    summary = "the value one period (a day) ago as the forecast; the forecasting baseline"
    params = (
        Param("period", "auto", "auto (1d under daily windows, else 1w), none, or a duration", str),
        Param("scoring", "pointwise", "likelihood (sustained surprise) or pointwise", str),
        *COMMON_PARAMS[1:],
    )

    def candidates(self, step: float) -> list[list[float]]:
        points = self.seasonal_points(step)[0]
        return [[max(points, 1), 1, 0, 0.0, kernel.MEDIAN, 1.0]]
