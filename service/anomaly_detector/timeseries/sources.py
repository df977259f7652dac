"""Which series a file holds: an access log (aggregated) or a plain ``timestamp,value`` CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anomaly_detector.data.reading import csv_errors, existing_file
from anomaly_detector.data.series import access_log, points
from anomaly_detector.data.series.grid import Series, parse_step
from anomaly_detector.errors import InputError

# Access logs are aggregated into 5-minute windows unless told otherwise.
DEFAULT_LOG_WINDOW = "5min"
DEFAULT_LOG_METRIC = "p95"


def header(path: Path) -> list[str]:
    with csv_errors(path):
        return list(pd.read_csv(path, nrows=0).columns)


def load_series(
    path: str | Path,
    endpoint: str | None = None,
    window: str | None = None,
    metric: str | None = None,
    value_column: str | None = None,
) -> Series:
    """The series to analyse in ``path``.

    An access log (a time, a status and a latency column) is aggregated into windows
    of ``window`` (5 minutes by default) and ``metric`` (p95 latency by default) of
    ``endpoint`` (all requests by default) is taken. Any other CSV is read as
    ``timestamp,value`` on the grid of ``window`` (inferred by default).
    """
    path = existing_file(path)
    columns = header(path)
    step = parse_step(window)
    if access_log.is_access_log(columns):
        if value_column is not None:
            raise InputError(
                "invalid_request",
                f"{path} is an access log: choose what to analyse with --metric "
                "(--value-column is for timestamp,value CSVs)",
            )
        step = step or pd.Timedelta(DEFAULT_LOG_WINDOW)
        table = access_log.aggregate(path, step)
        return access_log.select(table, endpoint, metric or DEFAULT_LOG_METRIC, step, str(path))
    if endpoint is not None or metric is not None:
        raise InputError(
            "invalid_request",
            f"{path} is not an access log (it needs timestamp, status_code and response_time "
            "columns), so --endpoint and --metric do not apply",
        )
    return points.read_points(path, value_column, step)
