"""A series ensemble: the mean evidence of series detectors that fail differently.

The robust seasonal MAD has no level, so a lasting shift keeps scoring, and it needs
a full period of history; the forecaster follows a shift with its damped level and
scores from its first points. Averaging their evidence, ``L = -log10 p`` per point
(the decades behind each member's score), flags what both find surprising and
damps what only one does; a member without a score yet (warming up) is left out of
the mean. The forecasts and bands shown are the last member's (the forecaster's,
the better forecasts in ``bench/results-timeseries.md``).

Causal like its members: each member sees the same points in the same order, so a
live score equals the backtest score of the same point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anomaly_detector.detectors import catalog
from anomaly_detector.detectors.base import Detector, Param
from anomaly_detector.detectors.series import likelihood
from anomaly_detector.detectors.series.base import SeriesDetector, SeriesOutput
from anomaly_detector.detectors.series.params import COMMON_PARAMS, check_params

DEFAULT_MEMBERS = "seasonal_mad,forecaster"
TRANSFORM = next(p for p in COMMON_PARAMS if p.name == "transform")


def parse_members(text: str) -> str:
    """Comma-separated series detector names, at least two, no ensemble among them."""
    names = [name.strip() for name in str(text).split(",") if name.strip()]
    if len(names) < 2:
        raise ValueError(f"a series ensemble needs at least two members, got {text!r}")
    for name in names:
        cls = catalog.detector_class(name)
        if cls.task != "timeseries" or issubclass(cls, SeriesEnsembleDetector):
            raise ValueError(f"series ensemble members are series detectors; got {name!r}")
    return ",".join(names)


class SeriesEnsembleDetector(SeriesDetector):
    """The mean of its members' evidence (decades of tail probability)."""

    name = "series_ensemble"
    summary = (
        "mean evidence of seasonal_mad and forecaster (the default for series): robust "
        "seasonal profile plus a level that follows shifts; scores from the first points"
    )
    params = (
        Param("members", DEFAULT_MEMBERS, "comma-separated series detectors to combine; "
              "the last one's forecasts and bands are shown", parse_members),
        TRANSFORM,
    )  # fmt: skip
    score_meaning = (
        "L / (L + 4) with L the mean over members of -log10 of each one's tail "
        "probability (members warming up left out)"
    )
    raw_score_meaning = score_meaning
    # Averaged evidence is less extreme than either member's: at 0.7 the generated logs
    # give the best event F1 (0.73; bench/results-timeseries.md), at 0.75 recall falls.
    default_threshold = 0.7

    def __init__(self, **params: Any) -> None:
        Detector.__init__(self, **params)  # the members check their own parameters
        self.hyperparameters["members"] = parse_members(self.hyperparameters["members"])
        check_params(self.params, self.hyperparameters)

    def run(self, inputs: np.ndarray, transform: str = "none") -> SeriesOutput:
        self.members_: list[SeriesDetector] = [
            catalog.detector_class(name)(transform=self.hyperparameters["transform"])
            for name in self.hyperparameters["members"].split(",")
        ]
        output = self._combine([m.run(inputs, transform) for m in self.members_])
        self._follow()
        return output

    def update(self, inputs: np.ndarray) -> SeriesOutput:
        output = self._combine([m.update(inputs) for m in self.members_])
        self._follow()
        return output

    def ahead(self, horizon: int):
        return self.members_[-1].ahead(horizon)

    def _follow(self) -> None:
        shown = self.members_[-1]
        self.step_seconds_, self.last_time_ = shown.step_seconds_, shown.last_time_
        self.transform_ = shown.transform_
        self.n_features_in_ = 2

    @staticmethod
    def _combine(outputs: list[SeriesOutput]) -> SeriesOutput:
        scores = np.vstack([o.anomaly_score for o in outputs])
        combined = np.empty(scores.shape[1])
        likelihood.mean_evidence(scores, combined)  # members warming up are left out
        shown = outputs[-1]
        return SeriesOutput(shown.forecast, shown.lower, shown.upper, shown.surprise, combined)
