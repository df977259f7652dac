"""A ``timestamp,value`` CSV (or any CSV with a time column and a numeric one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from anomaly_detector.data.reading import read_csv
from anomaly_detector.data.series.grid import Series, parse_timestamps, regular
from anomaly_detector.errors import InputError

TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date")


def time_column(frame: pd.DataFrame, path: Path) -> str:
    """The column holding time: a known name, else the first column."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in TIME_COLUMNS:
        if name in lower:
            return lower[name]
    if len(frame.columns) == 0:
        raise InputError("invalid_request", f"{path} has no columns")
    return frame.columns[0]


def read_points(
    path: str | Path, value_column: str | None = None, step: pd.Timedelta | None = None
) -> Series:
    """Read a ``timestamp,value`` file as a regular series.

    Args:
        path: a CSV with a time column (``timestamp`` or the first column) and values.
        value_column: the value column; by default ``value``, else the only numeric one.
        step: the grid's window; inferred from the timestamps when None.
    """
    path = Path(path)
    frame = read_csv(path)
    column = time_column(frame, path)
    others = [c for c in frame.columns if c != column]
    if value_column is None:
        if "value" in others:
            value_column = "value"
        else:
            numeric = [c for c in others if pd.to_numeric(frame[c], errors="coerce").notna().any()]
            if len(numeric) != 1:
                found = ", ".join(map(str, frame.columns))
                raise InputError(
                    "invalid_request",
                    f"{path}: expected columns timestamp,value; found {found}"
                    " (name the value column with --value-column)",
                )
            value_column = numeric[0]
    elif value_column not in others:
        raise InputError(
            "invalid_request",
            f"{path} has no column {value_column!r}; it has {', '.join(map(str, frame.columns))}",
        )
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = values.isna() & frame[value_column].notna() | np.isinf(values)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        value = frame[value_column].iloc[row]
        raise InputError(
            "invalid_request", f"{path}: value {str(value)!r} on data row {row + 1} is not a number"
        )
    timestamps = parse_timestamps(frame[column], str(path))
    return regular(str(value_column), timestamps, values.to_numpy(float), step, source=str(path))
