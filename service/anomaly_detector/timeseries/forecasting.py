"""Forecasts ahead, and the rolling-origin backtest that judges them.

``forecast`` fits a series detector on a whole series and forecasts the next
windows with a band. ``rolling_origin`` replays a series: at every ``stride``-th
window after a warm-up it forecasts the next ``horizon`` windows from the state of
the points so far only, as the model would have live. ``accuracy`` scores those
forecasts as the forecasting literature does: MASE (mean absolute error over the
in-sample mean absolute error of the seasonal naive forecast, Hyndman and Koehler
2006) and the share of actual values inside the band (coverage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anomaly_detector.data.series.grid import Series, duration
from anomaly_detector.detectors.series.base import SeriesDetector
from anomaly_detector.errors import InputError

# A year of 5-minute windows.
MAX_HORIZON_POINTS = 105_120


def horizon_points(horizon: str | pd.Timedelta, step: pd.Timedelta) -> int:
    """A horizon such as ``1h`` in windows of ``step`` (at least one, at most
    ``MAX_HORIZON_POINTS``).

    Raises:
        ValueError: not a positive duration with a unit, or too far ahead.
    """
    try:
        ahead = duration(horizon)
    except ValueError:
        ahead = None
    if ahead is None or pd.isna(ahead) or ahead <= pd.Timedelta(0):
        raise ValueError(f"a horizon is a positive duration such as 1h or 30min; got {horizon!r}")
    points = max(1, int(round(ahead / step)))
    if points > MAX_HORIZON_POINTS:
        raise ValueError(
            f"{horizon} is {points:,} windows ahead; at most {MAX_HORIZON_POINTS:,} are "
            "forecast (a band that far out says little): shorten it or widen --window"
        )
    return points


def forecast(series: Series, detector: SeriesDetector, horizon: int) -> pd.DataFrame:
    """Fit on all of ``series`` and forecast the next ``horizon`` windows."""
    try:
        detector.run(series.inputs(), series.transform)
    except ValueError as exc:  # a parameter that does not fit these values
        raise InputError("invalid_request", f"{series.name}: {exc}") from None
    return detector.ahead(horizon)


def rolling_origin(
    series: Series,
    make_detector: Callable[[], SeriesDetector],
    horizon: int,
    stride: int,
    warmup: int,
) -> pd.DataFrame:
    """Forecasts from every ``stride``-th origin after ``warmup`` windows, ``horizon`` ahead.

    Returns:
        One row per (origin, step ahead): ``origin, ahead, timestamp, actual, forecast,
        lower, upper``. Targets past the end of the series are left out.
    """
    inputs = series.inputs()
    n = len(inputs)
    if warmup >= n - 1:
        raise ValueError(f"the series has {n} windows; the warm-up needs fewer than {warmup}")
    detector = make_detector()
    detector.run(inputs[:warmup], series.transform)
    frames, position = [], warmup
    while position < n:
        ahead = detector.ahead(horizon)
        targets = np.arange(position, min(position + horizon, n))
        frames.append(
            pd.DataFrame(
                {
                    "origin": series.timestamps[position - 1],
                    "ahead": np.arange(1, len(targets) + 1),
                    "timestamp": series.timestamps[targets],
                    "actual": series.values[targets],
                    "forecast": ahead["forecast"].to_numpy()[: len(targets)],
                    "lower": ahead["lower"].to_numpy()[: len(targets)],
                    "upper": ahead["upper"].to_numpy()[: len(targets)],
                }
            )
        )
        end = min(position + stride, n)
        detector.update(inputs[position:end])
        position = end
    return pd.concat(frames, ignore_index=True)


def seasonal_naive_scale(values: np.ndarray, season: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (MASE's denominator)."""
    values = np.asarray(values, dtype=float)
    season = season if len(values) > season else 1
    errors = np.abs(values[season:] - values[:-season])
    return float(np.nanmean(errors))


@dataclass(frozen=True)
class Accuracy:
    """How good a backtest's forecasts were."""

    mase: float
    mae: float
    coverage: float
    forecasts: int


def accuracy(backtest: pd.DataFrame, scale: float) -> Accuracy:
    """MASE (with the given seasonal naive scale), MAE and band coverage of a backtest."""
    scored = backtest.dropna(subset=["actual", "forecast"])
    errors = np.abs(scored["actual"] - scored["forecast"])
    inside = (scored["actual"] >= scored["lower"]) & (scored["actual"] <= scored["upper"])
    mae = float(errors.mean()) if len(scored) else float("nan")
    return Accuracy(
        mae / scale, mae, float(inside.mean()) if len(scored) else float("nan"), len(scored)
    )
