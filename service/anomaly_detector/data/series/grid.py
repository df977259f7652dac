"""One regular series from raw (timestamp, value) points, with every repair written down.

Detectors need one value per window in time order. Real files have unsorted rows,
duplicate timestamps, missing windows, epoch or ISO timestamps: this module makes
a grid and says what it did (``Series.repairs``) instead of failing or guessing
silently. What it will not repair is an error that names the problem:

- unparseable timestamps or values: the first offending row is quoted;
- fewer than ``MIN_POINTS`` points: too few to learn anything from;
- gaps longer than ``MAX_GAP_SHARE`` of the series: probably the wrong ``--window``.

Repairs: rows are sorted; points in the same window are averaged (``duplicates``);
missing windows become NaN, which detectors skip without scoring (``gaps``);
timestamps are floored onto the window grid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from anomaly_detector.errors import InputError

MIN_POINTS = 10
MAX_GAP_SHARE = 0.5


@dataclass
class Series:
    """A regular series: one value (or NaN) per ``step``, in time order."""

    name: str
    timestamps: pd.DatetimeIndex
    values: np.ndarray
    step: pd.Timedelta
    repairs: list[str] = field(default_factory=list)
    # What the source knows of the values' nature: "log" for latencies, counts and bytes
    # (multiplicative noise, bounded below by 0), "none" otherwise. A detector whose
    # ``transform`` is "auto" follows it.
    transform: str = "none"
    # The access-log metric (p95, error_ratio, ...) the values are, when the source says.
    metric: str | None = None

    def __len__(self) -> int:
        return len(self.values)

    def inputs(self) -> np.ndarray:
        """Detector input rows ``[POSIX seconds, value]``."""
        seconds = self.timestamps.as_unit("ns").asi8 / 1e9
        return np.column_stack([seconds, self.values]).astype(np.float64)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"timestamp": self.timestamps, "value": self.values})


def parse_timestamps(raw: pd.Series, source: str) -> pd.DatetimeIndex:
    """Timestamps as UTC: ISO 8601 strings, or epoch seconds or milliseconds as numbers."""
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all() and len(raw):
        # Epoch milliseconds are past 1e11 for any date after 1973.
        unit = "ms" if float(numeric.abs().median()) > 1e11 else "s"
        return pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit, utc=True))
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & raw.notna() | raw.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        column = f"column {raw.name!r}" if isinstance(raw.name, str) else "the timestamp"
        cell = raw.iloc[row]
        found = "is empty" if pd.isna(cell) else f"holds {cell!r}, which is not a date"
        raise InputError(
            "invalid_request",
            f"{source}: {column} on data row {row + 1} {found}; "
            "expected ISO 8601 (2026-10-05T14:00:00Z) or epoch seconds/milliseconds",
        )
    return pd.DatetimeIndex(parsed)


def duration(text: str | pd.Timedelta) -> pd.Timedelta:
    """A duration as people write it (5min, 1h, 1d, 1w, 2 days); ValueError if it is none.

    pandas deprecates the lower-case day and week units (1d, 1w) that people write most,
    so they are read as 1D and 1W, which pandas keeps.
    """
    if not isinstance(text, str):
        return pd.Timedelta(text)
    if not any(c.isalpha() for c in text):  # pandas reads a bare 5 as 5 nanoseconds
        raise ValueError(f"a duration needs a unit, such as 15min, 1h or 1d; got {text!r}")
    return pd.Timedelta(re.sub(r"(?<=[\d.\s])([dw])(?![a-z])", lambda m: m[1].upper(), text))


def parse_step(text: str | None) -> pd.Timedelta | None:
    """A ``--window`` such as 1min, 5min or 1h; None leaves it to ``infer_step``."""
    if text is None:
        return None
    try:
        step = duration(text)
    except ValueError:
        step = None
    if step is None or pd.isna(step) or step <= pd.Timedelta(0):
        raise InputError(
            "invalid_request",
            f"window must be a duration with a unit, such as 1min, 5min or 1h; got {text!r}",
        )
    return step


def step_text(step: pd.Timedelta) -> str:
    """A step as a user writes ``--window``: 5min, 1h, 30s (``parse_step`` reads it back)."""
    text = to_offset(step).freqstr
    return text if text[0].isdigit() else f"1{text}"


def infer_step(timestamps: pd.DatetimeIndex) -> pd.Timedelta:
    """The most common spacing of distinct timestamps."""
    distinct = timestamps.unique().sort_values()
    gaps = np.diff(distinct.as_unit("ns").asi8)
    if len(gaps) == 0:
        raise InputError("invalid_request", "a series needs at least two distinct timestamps")
    values, counts = np.unique(gaps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def regular(
    name: str,
    timestamps: pd.DatetimeIndex,
    values: np.ndarray,
    step: pd.Timedelta | None = None,
    source: str | None = None,
) -> Series:
    """Put points on a regular grid of ``step`` (inferred when None), noting each repair."""
    source = source or name
    values = np.asarray(values, dtype=np.float64)
    repairs: list[str] = []
    if len(values) < MIN_POINTS:
        raise InputError(
            "invalid_request",
            f"{source}: {len(values)} point(s); a series needs at least {MIN_POINTS}",
        )
    step = step or infer_step(timestamps)
    order = np.argsort(timestamps.as_unit("ns").asi8, kind="stable")
    if np.any(np.diff(order) < 0):
        repairs.append("rows were not in time order; sorted")
    slots = timestamps.floor(step)
    frame = pd.DataFrame({"slot": slots, "value": values})
    grouped = frame.groupby("slot", sort=True)["value"].mean()
    merged = len(frame) - len(grouped)
    if merged:
        repairs.append(f"{merged} point(s) shared a window with another; averaged")
    check_grid(grouped.index[0], grouped.index[-1], len(grouped), step, source)
    full = pd.date_range(grouped.index[0], grouped.index[-1], freq=step)
    series = grouped.reindex(full)
    missing = len(series) - len(grouped)
    blank = int(grouped.isna().sum())
    if missing + blank > MAX_GAP_SHARE * len(series) or len(series) - missing - blank < MIN_POINTS:
        raise InputError(
            "invalid_request",
            f"{source}: {missing + blank} of {len(series)} windows of {step_text(step)} have no "
            f"value ({blank} with empty values); a series needs values in at least "
            f"{MIN_POINTS} windows and half of them",
        )
    if missing:
        repairs.append(f"{missing} missing window(s) of {step_text(step)} left empty (not scored)")
    if blank:
        repairs.append(f"{blank} window(s) with empty values left empty (not scored)")
    return Series(name, pd.DatetimeIndex(full), series.to_numpy(np.float64), step, repairs)


def check_grid(
    first: pd.Timestamp, last: pd.Timestamp, occupied: int, step: pd.Timedelta, source: str
) -> None:
    """Check the windows from ``first`` to ``last`` before they are allocated.

    Raises:
        InputError: fewer than ``MIN_POINTS`` windows, or more than ``MAX_GAP_SHARE`` of
            them without a point (a window too small for the data, such as 1s for a
            log of one request a minute, or a unit-less 5 read as 5 ns).
    """
    windows = int((last - first) // step) + 1
    if windows < MIN_POINTS:
        raise InputError(
            "invalid_request",
            f"{source}: {windows} window(s) of {step_text(step)}; "
            f"a series needs at least {MIN_POINTS}",
        )
    if windows - occupied > MAX_GAP_SHARE * windows:
        raise InputError(
            "invalid_request",
            f"{source}: {windows - occupied:,} of {windows:,} windows of {step_text(step)} "
            "have no point; is the window right? (pass --window)",
        )
