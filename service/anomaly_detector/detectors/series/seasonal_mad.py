"""The robust seasonal baseline: median and MAD per seasonal position.

A point is compared with the same window on the last ``seasons`` periods (and one
window either side): their median is the expectation and their MAD the spread,
floored at half the series' global residual spread so that a position whose few
past values happen to agree does not turn noise into certainty. No level: a
lasting shift keeps scoring until it has filled the seasons' history.
"""

from __future__ import annotations

from anomaly_detector.detectors.base import Param
from anomaly_detector.detectors.series import kernel
from anomaly_detector.detectors.series.base import SeriesDetector
from anomaly_detector.detectors.series.params import COMMON_PARAMS


class SeasonalMADDetector(SeriesDetector):
    """Median and MAD of the same position in past periods."""

    name = "seasonal_mad"
    summary = "median and MAD of the same window in past days (or any period); robust baseline"
    params = (
        Param("period", "auto", "auto (1d under daily windows, else 1w), none, or a duration", str),
        Param("seasons", 7, "past periods the median and MAD look back at", int),
        Param("neighbors", 1, "windows either side of the same position in each season", int),
        *COMMON_PARAMS,
    )
    spread_mode = kernel.LOCAL_MAD
    spread_floor = 0.5

    def candidates(self, step: float) -> list[list[float]]:
        params = self.hyperparameters
        points = self.seasonal_points(step)[0]
        if points == 0:  # no season: the median of the last ``seasons`` windows
            return [[1, params["seasons"], 0, 0.0, kernel.MEDIAN, 1.0]]
        return [[points, params["seasons"], params["neighbors"], 0.0, kernel.MEDIAN, 1.0]]
