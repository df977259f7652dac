"""The default series model: a robust seasonal profile plus a damped level, chosen online.

Three candidates run side by side on every point: a smoothed level (no seasonality),
a daily profile (the median of the same window on the last ``days`` days, with one
neighbouring window either side) and a weekly one (``weeks`` weeks back), each
corrected by a damped, exponentially smoothed level of its own residuals. The
forecast is the candidate with the smaller recent one-step error, so a series with
weekends gets the weekly profile once three weeks are seen, a series without cycles
keeps the level, and none of it looks at the future. Bands are conformal (the
quantile of recent standardized residuals); ``kernel`` has the details.
"""

from __future__ import annotations

from anomaly_detector.detectors.base import Param
from anomaly_detector.detectors.series import kernel
from anomaly_detector.detectors.series.base import DAY, WEEK, SeriesDetector
from anomaly_detector.detectors.series.params import COMMON_PARAMS, period_seconds


class ForecasterDetector(SeriesDetector):
    """Seasonal median profile + damped level; seasonality picked from recent errors."""

    name = "forecaster"
    summary = (
        "robust daily/weekly profile plus a damped level, seasonality chosen online from "
        "recent errors, conformal bands; the default forecaster (series forecast)"
    )
    params = (
        Param("period", "auto", "auto (none, 1d and 1w compete), none, or a duration", str),
        Param("days", 5, "daily seasons the daily profile's median looks back at", int),
        Param("weeks", 3, "weekly seasons the weekly profile's median looks back at", int),
        Param("neighbors", 1, "windows either side of the same position in each season", int),
        Param("level_alpha", 0.1, "smoothing weight of the residual level"),
        Param("damping", 0.98, "per-window decay of the residual level in forecasts"),
        *COMMON_PARAMS,
    )

    def candidates(self, step: float) -> list[list[float]]:
        params = self.hyperparameters
        alpha, damping, neighbors = params["level_alpha"], params["damping"], params["neighbors"]
        rows = [[0, 0, 0, max(alpha, 0.3), kernel.MEDIAN, 1.0]]
        if params["period"] == "auto":
            seasons = [(DAY, params["days"]), (WEEK, params["weeks"])]
        elif params["period"] == "none":
            seasons = []
        else:
            seasons = [(period_seconds(params["period"]), params["days"])]
        for seconds, count in seasons:
            points = int(round(seconds / step))
            if points >= 2:
                rows.append([points, count, neighbors, alpha, kernel.MEDIAN, damping])
        return rows
