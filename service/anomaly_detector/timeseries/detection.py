"""Run a series detector over a series: the table ``series detect`` writes and charts.

One function for the CLI, the notebooks, the benchmarks and the watcher's backfill,
so every one of them scores a point the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anomaly_detector.data.series.grid import Series
from anomaly_detector.detectors import registry
from anomaly_detector.detectors.series.base import SeriesDetector
from anomaly_detector.errors import InputError

COLUMNS = ("timestamp", "value", "forecast", "lower", "upper", "anomaly_score", "is_anomaly")


def series_detector(name: str | None = None, **params: Any) -> SeriesDetector:
    """A fresh series detector by registry name (the default when None)."""
    name = name or registry.DEFAULT_SERIES_DETECTOR
    names = registry.trainable("timeseries")
    if name not in names:
        raise InputError(
            "invalid_request", f"series detectors are {', '.join(names)}; got {name!r}"
        )
    try:
        detector = registry.build_detector(name, **params)
    except ValueError as exc:
        raise InputError("invalid_request", str(exc)) from None
    assert isinstance(detector, SeriesDetector)
    return detector


def detect(
    series: Series, detector: SeriesDetector | None = None, threshold: float | None = None
) -> pd.DataFrame:
    """Score every point of ``series`` causally; return the per-point table.

    Args:
        series: a regular series (``data.series``).
        detector: an unfitted series detector; the default (``series_ensemble``) when None.
        threshold: anomaly score at or above which a point is flagged; the detector's
            default (0.7 for ``series_ensemble``) when None.

    Returns:
        ``timestamp, value, forecast, lower, upper, anomaly_score, is_anomaly``; scores
        at full precision, NaN where a window is missing or the model is warming up.
    """
    detector = detector or series_detector()
    threshold = detector.default_threshold if threshold is None else float(threshold)
    try:
        output = detector.run(series.inputs(), series.transform)
    except ValueError as exc:  # a parameter that does not fit these values
        raise InputError("invalid_request", f"{series.name}: {exc}") from None
    scores = output.anomaly_score
    return pd.DataFrame(
        {
            "timestamp": series.timestamps,
            "value": series.values,
            "forecast": output.forecast,
            "lower": output.lower,
            "upper": output.upper,
            "anomaly_score": scores,
            "is_anomaly": np.nan_to_num(scores, nan=-1.0) >= threshold,
        }
    )
