"""Windowed Gaussian: the z-score of a point against the mean and deviation of the last
``window`` points (NAB's baseline detector), scored by its normal tail."""

from __future__ import annotations

from anomaly_detector.detectors.base import Param
from anomaly_detector.detectors.series import kernel
from anomaly_detector.detectors.series.base import SeriesDetector
from anomaly_detector.detectors.series.params import COMMON_PARAMS


class WindowedGaussianDetector(SeriesDetector):
    """Mean and standard deviation of a sliding window."""

    name = "windowed_gaussian"
    summary = "z-score against the last window's mean and deviation; NAB's baseline"
    params = (
        Param("window", 288, "points in the sliding window", int),
        Param("scoring", "pointwise", "likelihood (sustained surprise) or pointwise", str),
        *COMMON_PARAMS[1:],
    )
    spread_mode = kernel.LOCAL_STD

    def candidates(self, step: float) -> list[list[float]]:
        return [[1, self.hyperparameters["window"], 0, 0.0, kernel.MEAN, 1.0]]
