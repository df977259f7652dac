"""The series detectors' parameters: those they share, and the checks every value passes.

Checked when a detector is made (``--param`` on the command line, ``WATCH_PARAMS``),
so a value no kernel can use is a sentence naming its range before any work starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from anomaly_detector.data.series.grid import duration
from anomaly_detector.detectors.base import Param

SCORINGS = ("likelihood", "pointwise")
TRANSFORMS = ("auto", "none", "log")
# Float parameters' ranges: (exclusive low, inclusive high).
FLOAT_RANGES = {"level_alpha": (0.0, 1.0), "damping": (0.0, 1.0), "clip": (0.0, math.inf)}
# Integer parameters are counts of points or seasons, at least 1, except these.
INT_MINIMUMS = {"neighbors": 0}


def parse_period(text: str | float | int) -> str:
    """A ``period`` parameter checked now rather than at fit: auto, none, or a duration."""
    text = str(text).strip().lower()
    if text not in ("auto", "none"):
        try:
            if duration(text) <= pd.Timedelta(0):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"period must be auto, none or a duration such as 1d, 1w or 12h; got {text!r}"
            ) from None
    return text


def period_seconds(text: str) -> float:
    """A period parameter in seconds (0 for none)."""
    return 0.0 if text == "none" else duration(text).total_seconds()


COMMON_PARAMS: tuple[Param, ...] = (
    Param("scoring", "likelihood", "likelihood (sustained surprise) or pointwise", str),
    Param("coverage", 0.95, "share of normal points inside the band"),
    Param("short_window", 6, "points averaged by the likelihood", int),
    Param("long_window", 2016, "points whose short means give the likelihood's reference", int),
    Param("clip", 4.0, "residuals beyond this many spreads do not move levels or spreads"),
    Param("spread_halflife", 288, "points over which the spread adapts", int),
    Param("band_window", 576, "recent residuals the band's conformal quantile uses", int),
    Param(
        "transform", "auto",
        "log (model log1p of the values: latencies, counts, bytes), none, or auto: what the "
        "series' source says (log for access-log latency, counts and bytes)", str,
    ),
)  # fmt: skip


def check_params(params: Sequence[Param], values: dict[str, Any]) -> None:
    """Check (and normalise ``period`` in) a detector's hyperparameters.

    Raises:
        ValueError: a value outside its choices or range, naming them.
    """
    if "period" in values:
        values["period"] = parse_period(values["period"])
    for name, choices in (("scoring", SCORINGS), ("transform", TRANSFORMS)):
        if name in values and values[name] not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}; got {values[name]!r}")
    if "coverage" in values and not 0.5 <= float(values["coverage"]) < 1.0:
        raise ValueError("coverage must be in [0.5, 1)")
    for param in params:
        value = values.get(param.name)
        least = INT_MINIMUMS.get(param.name, 1)
        if param.parse is int and value < least:
            raise ValueError(f"{param.name} must be at least {least}; got {value}")
        low, high = FLOAT_RANGES.get(param.name, (None, None))
        if low is not None and not (low < float(value) <= high):
            raise ValueError(f"{param.name} must be above {low} and at most {high}; got {value}")
